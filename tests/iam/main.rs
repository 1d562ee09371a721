//! IAM proven against real calls: every DynamoDB request the functions made while the
//! integration, concurrency and end-to-end tests ran must be allowed by that function's
//! policy in `template.yaml`, and the policies must stay least-privilege by key.
//!
//! `scripts/test.sh` runs the other suites with `DYNAMODB_CALL_LOG` set, then the ignored
//! test here over the file they filled. The evaluator is `group_buy_tests::iam`.

use group_buy::Route;
use group_buy::call_log::{ItemAccess, RecordedCall, accesses};
use group_buy_tests::iam::{Policy, Resource, policies};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const TABLE: &str = "GroupBuysTable";

fn template_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn template_policies() -> BTreeMap<String, Policy> {
    let template = serde_yaml_ng::from_str(&template_text()).expect("template.yaml parses");
    policies(&template, TABLE).expect("every policy is inside the modelled subset")
}

/// A policy from a template fragment, for the evaluator's own tests.
fn policy_of(statements: &str) -> Policy {
    let fragment = format!(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: f\n    Properties:\n      Policies:\n        - Statement:\n{statements}"
    );
    let template = serde_yaml_ng::from_str(&fragment).expect("fragment parses");
    policies(&template, TABLE).expect("modelled")["f"].clone()
}

/// The daily-limit increment that rides in a create's transaction.
fn create_limit_increment() -> ItemAccess {
    let body = json!({"TransactItems": [{"Update": {
        "TableName": "t",
        "Key": {"PK": {"S": "LIMIT#owner-writes#acme#2026-11-24"}, "SK": {"S": "LIMIT"}},
        "UpdateExpression": "SET #count = if_not_exists(#count, :zero) + :one, #ttl = :ttl",
        "ConditionExpression": "attribute_not_exists(#count) OR #count < :limit",
        "ExpressionAttributeNames": {"#count": "count", "#ttl": "ttl"}}}]});
    accesses("TransactWriteItems", &body).remove(0)
}

/// The idempotency record of a keyed support report.
fn report_idempotency_record() -> ItemAccess {
    let body = json!({"TransactItems": [{"Put": {
        "TableName": "t",
        "Item": {"PK": {"S": "IDEM#caller#key"}, "SK": {"S": "IDEM"}, "ttl": {"N": "1"},
                 "status": {"N": "201"}, "expiresAt": {"N": "1"}},
        "ConditionExpression": "attribute_not_exists(#pk) OR #expires <= :now",
        "ExpressionAttributeNames": {"#pk": "PK", "#expires": "expiresAt"}}}]});
    accesses("TransactWriteItems", &body).remove(0)
}

#[test]
fn the_landed_policies_refused_every_create_and_keyed_report() {
    // create-group-buy and submit-support-report as they were before this check existed.
    let old_create = policy_of(
        r#"            - Effect: Allow
              Action: [dynamodb:PutItem]
              Resource: !GetAtt GroupBuysTable.Arn
            - Effect: Allow
              Action: [dynamodb:UpdateItem]
              Resource: !GetAtt GroupBuysTable.Arn
              Condition:
                ForAllValues:StringEquals:
                  dynamodb:LeadingKeys: ["ROLLUP"]
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:UpdateItem]
              Resource: !GetAtt GroupBuysTable.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["PAT#*"]
"#,
    );
    let old_report = policy_of(
        r#"            - Effect: Allow
              Action: [dynamodb:PutItem, dynamodb:UpdateItem]
              Resource: !GetAtt GroupBuysTable.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["REPORT#*", "LIMIT#support-reports#*"]
"#,
    );
    assert!(old_create.allows(&create_limit_increment()).is_err());
    assert!(old_report.allows(&report_idempotency_record()).is_err());

    let now = template_policies();
    now["create-group-buy"]
        .allows(&create_limit_increment())
        .expect("create may count against the owner's daily limit");
    now["submit-support-report"]
        .allows(&report_idempotency_record())
        .expect("a keyed report may keep its response");
}

#[test]
fn resources_conditions_and_attributes_are_judged() {
    let policy = policy_of(
        r#"            - Effect: Allow
              Action: [dynamodb:Query]
              Resource: !Sub "${GroupBuysTable.Arn}/index/GSI5"
            - Effect: Allow
              Action: [dynamodb:UpdateItem]
              Resource: !GetAtt GroupBuysTable.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["PAT#*"]
                ForAllValues:StringEquals:
                  dynamodb:Attributes: [PK, SK, lastUsedAt]
"#,
    );
    let query = |index: Option<&str>| ItemAccess {
        action: "dynamodb:Query".into(),
        table: "t".into(),
        index: index.map(str::to_owned),
        leading_keys: vec!["DEADLINES".into()],
        attributes: vec![],
    };
    assert!(policy.allows(&query(Some("GSI5"))).is_ok());
    assert!(policy.allows(&query(Some("GSI4"))).is_err());
    assert!(
        policy.allows(&query(None)).is_err(),
        "the table is not its index"
    );
    let touch = |attributes: &[&str], pk: &str| ItemAccess {
        action: "dynamodb:UpdateItem".into(),
        table: "t".into(),
        index: None,
        leading_keys: vec![pk.into()],
        attributes: attributes.iter().map(|a| a.to_string()).collect(),
    };
    assert!(
        policy
            .allows(&touch(&["PK", "SK", "lastUsedAt"], "PAT#1"))
            .is_ok()
    );
    assert!(
        policy
            .allows(&touch(&["PK", "SK", "revokedAt"], "PAT#1"))
            .is_err()
    );
    assert!(policy.allows(&touch(&["PK", "SK"], "GB#a#b")).is_err());
}

#[test]
fn anything_outside_the_modelled_subset_is_refused() {
    let template = |statement: &str| {
        let fragment = format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: f\n    Properties:\n      Policies:\n        - Statement:\n{statement}"
        );
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&fragment).expect("parses")
    };
    for outside in [
        "            - {Effect: Deny, Action: [dynamodb:GetItem], Resource: !GetAtt GroupBuysTable.Arn}\n",
        "            - {Effect: Allow, Action: [\"dynamodb:*\"], Resource: !GetAtt GroupBuysTable.Arn}\n",
        "            - {Effect: Allow, NotAction: [dynamodb:GetItem], Resource: !GetAtt GroupBuysTable.Arn}\n",
        "            - {Effect: Allow, Action: [dynamodb:GetItem], Resource: \"*\"}\n",
        "            - {Effect: Allow, Action: [dynamodb:GetItem], Resource: !GetAtt GroupBuysTable.Arn, Condition: {StringEquals: {dynamodb:Select: SPECIFIC_ATTRIBUTES}}}\n",
        "            - {Effect: Allow, Action: [dynamodb:GetItem], Resource: !GetAtt GroupBuysTable.Arn, Condition: {ForAllValues:StringLike: {dynamodb:ReturnValues: [NONE]}}}\n",
    ] {
        assert!(policies(&template(outside), TABLE).is_err(), "{outside}");
    }
    let sam_template: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: {BuildProperties: {Binary: f}}\n    Properties:\n      Policies: [{DynamoDBCrudPolicy: {TableName: t}}]\n",
    )
    .expect("parses");
    assert!(policies(&sam_template, TABLE).is_err());
}

/// A literal key family: `ROLLUP`, `GB#*`, `LIMIT#owner-writes#*`, never `*` or `*#…`.
fn names_a_key_family(pattern: &str) -> bool {
    let literal = pattern.trim_end_matches('*');
    !literal.is_empty()
        && !literal.contains(['*', '?'])
        && (literal == pattern || literal.ends_with('#'))
}

#[test]
fn every_write_statement_names_its_key_families() {
    for (function, policy) in template_policies() {
        for statement in policy.writes() {
            let keys = statement
                .leading_keys()
                .unwrap_or_else(|| panic!("{function}: a write statement without LeadingKeys"));
            for pattern in keys {
                assert!(
                    names_a_key_family(pattern),
                    "{function}: {pattern} names no key family"
                );
            }
        }
    }
}

#[test]
fn the_pat_last_use_note_may_change_only_last_used_at() {
    for (function, policy) in template_policies() {
        for statement in policy.writes() {
            let keys = statement.leading_keys().unwrap_or_default();
            if !keys.iter().any(|k| k.starts_with("PAT")) {
                continue;
            }
            assert_eq!(keys, ["PAT#*"], "{function}: PAT keys share no statement");
            assert_eq!(
                statement.actions,
                ["dynamodb:UpdateItem"],
                "{function}: a PAT may only be noted"
            );
            let attributes: BTreeSet<_> = statement
                .attributes()
                .unwrap_or_else(|| panic!("{function}: PAT note without dynamodb:Attributes"))
                .iter()
                .map(String::as_str)
                .collect();
            assert_eq!(
                attributes,
                BTreeSet::from(["PK", "SK", "lastUsedAt"]),
                "{function}"
            );
        }
    }
}

#[test]
fn read_only_functions_stay_read_only() {
    let policies = template_policies();
    for route in Route::ALL.iter().filter(|r| r.method() == "GET") {
        let policy = &policies[route.function()];
        for statement in policy.writes() {
            assert_eq!(
                statement.leading_keys(),
                Some(&["PAT#*".to_owned()][..]),
                "{}: a read-only route may write only its PAT's last use",
                route.function()
            );
        }
    }
}

#[test]
#[ignore = "needs the call log of a test run; run by scripts/test.sh"]
fn every_recorded_call_is_allowed_by_its_function_policy() {
    let path = std::env::var("DYNAMODB_CALL_LOG").expect("DYNAMODB_CALL_LOG names the call log");
    let log = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let policies = template_policies();
    let mut refused = BTreeSet::new();
    let mut calls_by_function: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let call: RecordedCall = serde_json::from_str(line).expect("a recorded call");
        *calls_by_function.entry(call.function.clone()).or_default() += 1;
        let Some(policy) = policies.get(&call.function) else {
            refused.insert(format!(
                "{}: no function of that name in the template",
                call.function
            ));
            continue;
        };
        for access in &call.accesses {
            if let Err(why) = policy.allows(access) {
                // One line per function, operation and key family, not per call.
                let family = access.leading_keys.first().map_or("", |k| {
                    k.split_once('#').map_or(k.as_str(), |(family, _)| family)
                });
                refused.insert(format!(
                    "{} {} ({family}#…): {why}",
                    call.function, call.operation
                ));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "IAM would refuse:\n{}",
        refused.into_iter().collect::<Vec<_>>().join("\n")
    );
    // A function that may touch no item (the stream processor reads only the stream) makes
    // no call to record.
    let touches_items = |policy: &Policy| {
        policy
            .statements
            .iter()
            .any(|s| s.resources.iter().any(|r| *r != Resource::Stream))
    };
    let silent: Vec<_> = policies
        .iter()
        .filter(|(f, policy)| touches_items(policy) && !calls_by_function.contains_key(*f))
        .map(|(f, _)| f)
        .collect();
    assert!(silent.is_empty(), "functions no test exercised: {silent:?}");
    println!("{calls_by_function:#?}");
}

#[test]
fn the_stream_processor_reads_the_stream_and_writes_only_the_statistics() {
    let policy = &template_policies()["group-buy-events"];
    let actions: BTreeSet<&str> = policy
        .statements
        .iter()
        .flat_map(|s| s.actions.iter().map(String::as_str))
        .collect();
    assert_eq!(
        actions,
        BTreeSet::from([
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ])
    );
    for statement in &policy.statements {
        if statement.resources != [Resource::Stream] {
            assert_eq!(
                statement.leading_keys(),
                Some(&["GBSTATS#*".to_owned()][..]),
                "the stream function writes the statistics' items and nothing else"
            );
        }
    }
}

#[test]
fn a_role_is_modelled_only_as_inline_policies_of_the_template() {
    let with_role = |role: &str| {
        format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: {{BuildProperties: {{Binary: f}}}}\n    Properties:\n      Role: !GetAtt R.Arn\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n{role}"
        )
    };
    let inline = with_role(
        "      Policies:\n        - PolicyName: p\n          PolicyDocument:\n            Statement:\n              - {Effect: Allow, Action: [dynamodb:GetItem], Resource: !GetAtt GroupBuysTable.Arn}\n",
    );
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&inline).expect("parses");
    assert_eq!(
        policies(&template, TABLE).expect("modelled")["f"]
            .statements
            .len(),
        1
    );
    let managed = with_role(
        "      ManagedPolicyArns: [arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole]\n      Policies: []\n",
    );
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&managed).expect("parses");
    assert!(policies(&template, TABLE).is_err());
}
