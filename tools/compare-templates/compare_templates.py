#!/usr/bin/env python3
"""Compares two CloudFormation/SAM templates as AWS would see them.

    compare_templates.py OLD NEW [--old-label L] [--new-label L]

Both are parsed with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, !If, !FindInMap,
...) turned into their long forms, so that formatting, comments, key order and the choice of
short or long form make no difference, while any change of value does (`0` and `"0"` differ).
A duplicated key is an error, as it is for CloudFormation.

Then, when samtranslator is importable (the SAM CLI's venv has it), both are expanded by the
SAM transform, offline (a fixed code location, a stub managed-policy map), and the resulting
CloudFormation is compared too: that is what a deploy creates. Without samtranslator only the
SAM-level comparison runs, and the summary says so.

Every top-level section is compared; Resources (and Parameters, Mappings, Conditions, Rules,
Outputs, Globals) logical id by logical id. Each added, removed or changed id is printed with a
unified diff of its JSON. Exit status 1 if anything differs, 0 with a one-line summary
("N resources, identical") otherwise; 2 on a template that cannot be read or transformed.
"""

import argparse
import copy
import difflib
import json
import logging
import os
import sys

import yaml

INTRINSICS_WITHOUT_FN = {"Ref", "Condition"}


class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that knows CloudFormation's tags and refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_intrinsic(loader, suffix, node):
    name = suffix if suffix in INTRINSICS_WITHOUT_FN else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load(path):
    with open(path, encoding="utf-8") as file:
        template = yaml.load(file, Loader=CloudFormationLoader)  # noqa: S506 (a safe loader)
    if not isinstance(template, dict):
        raise ValueError(f"{path}: not a template (no mapping at the top)")
    return template


class _StubManagedPolicies:
    """The offline managed-policy map: the AWS managed policies a template may name."""

    def load(self):
        names = [
            "AWSLambdaBasicExecutionRole",
            "AWSLambdaDynamoDBExecutionRole",
            "AWSXrayWriteOnlyAccess",
            "AWSLambdaRole",
        ]
        return {name: f"arn:aws:iam::aws:policy/{name}" for name in names}


def _offline_code_locations(template):
    """What `sam validate` does: local CodeUri/DefinitionUri become a fixed S3 location (the
    transform accepts no local path). Both templates get the same one, as a deploy would."""
    fake = "s3://compare-templates/code.zip"
    function_globals = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = fake
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = fake
        if kind in ("AWS::Serverless::HttpApi", "AWS::Serverless::Api") and "DefinitionUri" in properties:
            properties["DefinitionUri"] = fake
    return template


def sam_transform(template, region):
    """The CloudFormation the SAM transform makes of `template`, or None without samtranslator."""
    try:
        from samtranslator.translator.arn_generator import ArnGenerator
        from samtranslator.translator.transform import transform
    except ImportError:
        return None
    if "Transform" not in template:
        return template
    # What `sam validate` takes from its boto session: the region of the pseudo parameters
    # and of the ARNs the transform makes.
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["AWS_REGION"] = region
    ArnGenerator.BOTO_SESSION_REGION_NAME = region
    # Its usage metrics go nowhere offline; it would warn that they were never published.
    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)
    fragment = _offline_code_locations(copy.deepcopy(template))
    return transform(fragment, {}, _StubManagedPolicies())


def _json(value):
    return json.dumps(value, indent=2, sort_keys=True, default=str).splitlines()


def compare(old, new, stage, old_label, new_label):
    """Prints the differences of two parsed templates; returns how many entries differ."""
    differences = 0
    for section in sorted(set(old) | set(new)):
        before, after = old.get(section), new.get(section)
        keyed = isinstance(before, dict) and isinstance(after, dict)
        entries = sorted(set(before) | set(after)) if keyed else [None]
        for key in entries:
            a = before.get(key) if keyed else before
            b = after.get(key) if keyed else after
            if a == b:
                continue
            differences += 1
            where = f"{section}.{key}" if keyed else section
            if keyed and key not in before:
                print(f"[{stage}] added {where}")
            elif keyed and key not in after:
                print(f"[{stage}] removed {where}")
            else:
                print(f"[{stage}] changed {where}")
            diff = difflib.unified_diff(
                _json(a) if a is not None else [],
                _json(b) if b is not None else [],
                fromfile=f"{old_label} {where}",
                tofile=f"{new_label} {where}",
                lineterm="",
            )
            for line in diff:
                print(f"    {line}")
    return differences


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--old-label", default=None)
    parser.add_argument("--new-label", default=None)
    parser.add_argument("--region", default="us-east-1", help="for the SAM transform's ARNs")
    args = parser.parse_args()
    old_label = args.old_label or args.old
    new_label = args.new_label or args.new
    try:
        old, new = load(args.old), load(args.new)
    except (OSError, ValueError, yaml.YAMLError) as error:
        print(f"compare-templates: {error}", file=sys.stderr)
        return 2

    differences = compare(old, new, "SAM", old_label, new_label)
    try:
        old_cfn, new_cfn = sam_transform(old, args.region), sam_transform(new, args.region)
    except Exception as error:  # the transform's own errors name what is wrong
        print(f"compare-templates: the SAM transform failed: {error}", file=sys.stderr)
        return 2
    if old_cfn is None:
        print("compare-templates: samtranslator is not importable; compared the SAM templates only",
              file=sys.stderr)
        resources, what = len(new.get("Resources", {})), "SAM template"
    else:
        differences += compare(old_cfn, new_cfn, "CloudFormation", old_label, new_label)
        resources = len(new_cfn.get("Resources", {}))
        what = f"CloudFormation after the SAM transform; {len(new.get('Resources', {}))} in the SAM template"

    if differences:
        print(f"{differences} logical ids or sections differ between {old_label} and {new_label}")
        return 1
    print(f"{resources} resources, identical ({what})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into head
        sys.exit(1)
