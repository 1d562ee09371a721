#!/usr/bin/env python3
"""Checks a function artifact that `sam build` produced for `provided.al2023` on arm64.

  artifact.py DIR [--max-bootstrap-bytes N] [--max-zip-bytes N] [--max-glibc 2.34] [--zip OUT]

DIR is the function's directory in the build dir (e.g. .aws-sam/build/CreateGroupBuyFunction).
Asserts, reading the ELF itself (standard library only, no binutils):

  - DIR holds exactly one file, `bootstrap`, executable (Lambda runs <task root>/bootstrap);
  - it is a 64-bit little-endian ELF executable for AArch64 (e_machine 183);
  - it is dynamically linked with the interpreter /lib/ld-linux-aarch64.so.1 and needs only
    glibc's own libraries (provided.al2023 ships glibc and little else);
  - the newest GLIBC_x.y symbol version it needs is at most --max-glibc (al2023: glibc 2.34);
  - its size, and the size of the zip that `sam package`/`sam deploy` uploads, are within
    budget. The zip is made as SAM makes it (samcli.lib.package.utils.make_zip: zipfile,
    ZIP_DEFLATED at zlib's default level, mode 0755).

Prints one line of facts; exits 1 with the reasons when a check fails.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile
import zipfile

EM_AARCH64 = 183
PT_INTERP = 3
SHT_DYNAMIC = 6
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NEEDED = 1
AARCH64_INTERPRETER = "/lib/ld-linux-aarch64.so.1"
# The shared objects of glibc itself; anything else (libssl, libgcc_s, ...) may be missing
# from the provided.al2023 image.
GLIBC_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
    "libutil.so.1", "ld-linux-aarch64.so.1",
}


class ElfError(Exception):
    pass


def c_string(data: bytes, offset: int) -> str:
    end = data.index(b"\0", offset)
    return data[offset:end].decode("ascii", "replace")


def read_elf(data: bytes) -> dict:
    """Machine, type, interpreter, DT_NEEDED and the GLIBC versions it needs."""
    if data[:4] != b"\x7fELF":
        raise ElfError("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise ElfError(f"not a 64-bit little-endian ELF (class {data[4]}, data {data[5]})")
    (e_type, e_machine, _version, _entry, e_phoff, e_shoff, _flags, _ehsize, e_phentsize,
     e_phnum, e_shentsize, e_shnum, _shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", data, 16)

    interpreter = None
    for i in range(e_phnum):
        p_type, _pf, p_offset, _va, _pa, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == PT_INTERP:
            interpreter = data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()

    sections = []
    for i in range(e_shnum):
        (_name, sh_type, _flags, _addr, sh_offset, sh_size, sh_link, sh_info, _align,
         _entsize) = struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
        sections.append((sh_type, sh_offset, sh_size, sh_link, sh_info))

    def strtab(index: int) -> int:
        return sections[index][1]

    needed, versions = [], set()
    for sh_type, offset, size, link, info in sections:
        if sh_type == SHT_DYNAMIC:
            for pos in range(offset, offset + size, 16):
                tag, value = struct.unpack_from("<qQ", data, pos)
                if tag == 0:
                    break
                if tag == DT_NEEDED:
                    needed.append(c_string(data, strtab(link) + value))
        elif sh_type == SHT_GNU_VERNEED:
            pos = offset
            for _ in range(info):
                _vn_version, vn_cnt, _vn_file, vn_aux, vn_next = struct.unpack_from(
                    "<HHIII", data, pos)
                aux = pos + vn_aux
                for _ in range(vn_cnt):
                    _hash, _flags, _other, vna_name, vna_next = struct.unpack_from(
                        "<IHHII", data, aux)
                    versions.add(c_string(data, strtab(link) + vna_name))
                    aux += vna_next
                pos += vn_next
    glibc = sorted(
        (tuple(int(p) for p in v[len("GLIBC_"):].split(".")) for v in versions
         if v.startswith("GLIBC_") and v[len("GLIBC_"):].replace(".", "").isdigit()),
    )
    return {
        "type": {2: "EXEC", 3: "DYN"}.get(e_type, str(e_type)),
        "machine": e_machine,
        "interpreter": interpreter,
        "needed": needed,
        "max_glibc": glibc[-1] if glibc else None,
    }


def sam_zip(directory: str, out: str) -> int:
    """Zips DIR as samcli.lib.package.utils.make_zip does; returns the zip's size."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, _dirs, files in os.walk(directory, followlinks=True):
            for name in sorted(files):
                path = os.path.join(root, name)
                info = zipfile.ZipInfo(os.path.relpath(path, directory))
                info.create_system = 3
                info.external_attr = 0o100755 << 16
                with open(path, "rb") as f:
                    zf.writestr(info, f.read(), compress_type=zipfile.ZIP_DEFLATED)
    return os.path.getsize(out)


def mib(n: int) -> str:
    return f"{n / (1 << 20):.2f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--max-bootstrap-bytes", type=int, default=14 << 20)
    parser.add_argument("--max-zip-bytes", type=int, default=6 << 20)
    parser.add_argument("--max-glibc", default="2.34")
    parser.add_argument("--zip", help="keep the zip here (default: a temporary file)")
    args = parser.parse_args()

    failures = []
    files = sorted(os.listdir(args.directory)) if os.path.isdir(args.directory) else []
    bootstrap = os.path.join(args.directory, "bootstrap")
    if not os.path.isfile(bootstrap):
        print(f"FAILED: no bootstrap in {args.directory} (found {files})", file=sys.stderr)
        return 1
    if files != ["bootstrap"]:
        failures.append(f"the artifact should hold only bootstrap, found {files}")
    if not os.access(bootstrap, os.X_OK):
        failures.append("bootstrap is not executable")

    with open(bootstrap, "rb") as f:
        data = f.read()
    try:
        elf = read_elf(data)
    except (ElfError, struct.error, ValueError, IndexError) as e:
        print(f"FAILED: bootstrap: {e}", file=sys.stderr)
        return 1
    if elf["machine"] != EM_AARCH64:
        failures.append(f"e_machine is {elf['machine']}, not {EM_AARCH64} (AArch64)")
    if elf["type"] not in ("EXEC", "DYN"):
        failures.append(f"ELF type {elf['type']} is not an executable")
    if elf["interpreter"] != AARCH64_INTERPRETER:
        failures.append(f"interpreter is {elf['interpreter']!r}, not {AARCH64_INTERPRETER} "
                        "(dynamically linked against glibc, as provided.al2023 runs it)")
    others = [lib for lib in elf["needed"] if lib not in GLIBC_LIBRARIES]
    if others:
        failures.append(f"needs libraries beyond glibc: {others}")
    max_allowed = tuple(int(p) for p in args.max_glibc.split("."))
    glibc = elf["max_glibc"]
    if glibc is None:
        failures.append("no GLIBC_ symbol versions found (not linked against glibc?)")
    elif glibc > max_allowed:
        failures.append(f"needs GLIBC_{'.'.join(map(str, glibc))}, newer than the "
                        f"{args.max_glibc} of provided.al2023")

    if args.zip:
        zip_size = sam_zip(args.directory, args.zip)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            zip_size = sam_zip(args.directory, os.path.join(tmp, "function.zip"))
    size = len(data)
    if size > args.max_bootstrap_bytes:
        failures.append(f"bootstrap is {size} bytes ({mib(size)}), over the budget of "
                        f"{args.max_bootstrap_bytes} ({mib(args.max_bootstrap_bytes)})")
    if zip_size > args.max_zip_bytes:
        failures.append(f"the zip is {zip_size} bytes ({mib(zip_size)}), over the budget of "
                        f"{args.max_zip_bytes} ({mib(args.max_zip_bytes)})")

    glibc_text = "GLIBC_" + ".".join(map(str, glibc)) if glibc else "none"
    machine = {EM_AARCH64: "AArch64", 62: "x86-64"}.get(elf["machine"], "machine")
    print(f"bootstrap: ELF64 {machine} (e_machine {elf['machine']}) {elf['type']}, "
          f"interpreter {elf['interpreter']}, needs {', '.join(elf['needed'])}; "
          f"newest symbol version {glibc_text} (<= GLIBC_{args.max_glibc}); "
          f"{size} bytes ({mib(size)}, budget {mib(args.max_bootstrap_bytes)}); "
          f"zip {zip_size} bytes ({mib(zip_size)}, budget {mib(args.max_zip_bytes)})")
    if failures:
        print("FAILED:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
