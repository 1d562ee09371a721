//! The participants list as CSV (`Accept: text/csv` on the owner's interests list): the
//! `csv` crate quotes per RFC 4180, and every text cell is neutralised against spreadsheet
//! formula injection first (OWASP, "CSV Injection"), since owners open these in spreadsheets.

use crate::store::InterestRecord;
use std::borrow::Cow;

/// The header row, in API.md's order.
pub const HEADER: [&str; 4] = ["participant", "quantity", "createdAt", "updatedAt"];

/// What starts a formula (or a DDE payload) in Excel, LibreOffice and Google Sheets: `=`,
/// `+`, `-`, `@`, and the tab and carriage return that some of them skip before one.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell as it is safe to open in a spreadsheet: one starting with a formula trigger
/// gets a leading `'`, which spreadsheets show as text and do not evaluate; any other is kept.
pub fn neutralise_formula(cell: &str) -> Cow<'_, str> {
    match cell.starts_with(FORMULA_TRIGGERS) {
        true => Cow::Owned(format!("'{cell}")),
        false => Cow::Borrowed(cell),
    }
}

/// One page of participants: the header row, then one row per interest. Numbers are written
/// as numbers; every text cell goes through `neutralise_formula`.
pub fn participants_csv(records: &[InterestRecord]) -> Result<String, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer.write_record(HEADER)?;
    for record in records {
        let (created_at, updated_at) =
            (record.created_at.to_string(), record.updated_at.to_string());
        let quantity = record.quantity.to_string();
        writer.write_record([
            neutralise_formula(&record.participant).as_ref(),
            &quantity,
            &neutralise_formula(&created_at),
            &neutralise_formula(&updated_at),
        ])?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    // Every cell written is a Rust string, so the output is UTF-8.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    #[test]
    fn formula_triggers_get_a_leading_quote() {
        for (cell, safe) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+2", "'+1+2"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
        ] {
            assert_eq!(neutralise_formula(cell), safe, "{cell:?}");
        }
    }

    #[test]
    fn other_cells_are_kept_as_they_are() {
        for cell in [
            "",
            "abc",
            "2026-11-24T18:00:00.000Z",
            "a=b",
            " =1",
            "'=1",
            "x-y",
        ] {
            assert!(
                matches!(neutralise_formula(cell), Cow::Borrowed(kept) if kept == cell),
                "{cell:?}"
            );
        }
    }

    fn record(participant: &str, quantity: u32) -> InterestRecord {
        let at = Timestamp::parse("2026-11-24T18:00:00.000Z").expect("time");
        InterestRecord {
            participant: participant.into(),
            quantity,
            created_at: at,
            updated_at: at.plus_millis(1),
        }
    }

    #[test]
    fn a_page_is_a_header_and_a_row_per_participant() {
        let csv = participants_csv(&[record("AbC_1", 2), record("-x=1", 1)]).expect("csv");
        assert_eq!(
            csv,
            "participant,quantity,createdAt,updatedAt\r\n\
             AbC_1,2,2026-11-24T18:00:00.000Z,2026-11-24T18:00:00.001Z\r\n\
             '-x=1,1,2026-11-24T18:00:00.000Z,2026-11-24T18:00:00.001Z\r\n"
        );
        assert_eq!(
            participants_csv(&[]).expect("csv"),
            "participant,quantity,createdAt,updatedAt\r\n"
        );
    }

    #[test]
    fn cells_with_separators_are_quoted() {
        let csv = participants_csv(&[record("a,\"b\"\nc", 1)]).expect("csv");
        assert!(csv.contains("\"a,\"\"b\"\"\nc\",1,"), "{csv}");
    }
}
