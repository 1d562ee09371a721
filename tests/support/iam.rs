//! An evaluator for the IAM policies of `template.yaml`, so that a DynamoDB call a deployed
//! function would be refused fails a test here, where DynamoDB Local enforces nothing.
//!
//! It models exactly the subset of IAM the template uses, and refuses to judge anything else
//! (so a policy that grows beyond it fails loudly instead of being misread):
//!
//! - identity policies given inline as `Policies: [{Statement: [...]}]` of an
//!   `AWS::Serverless::Function`, or as the inline `Policies: [{PolicyDocument: {Statement}}]`
//!   of the `AWS::IAM::Role` its `Role: !GetAtt <Role>.Arn` names; no managed policies, SAM
//!   policy templates or boundaries;
//! - statements with `Effect: Allow` (no `Deny`), `Action` and `Resource` (no `NotAction`,
//!   `NotResource`, `Principal`); only the actions named `dynamodb:<Operation>` exactly (no
//!   wildcards) are judged, statements of other services cannot allow a DynamoDB call and are
//!   passed over;
//! - resources `!GetAtt <Table>.Arn` (the table), `!Sub "${<Table>.Arn}/index/<name or *>"`
//!   (its indexes) and `!Sub "${<Table>.Arn}/stream/*"` (its streams, which no item access
//!   needs), alone or in a list;
//! - conditions `ForAllValues:StringEquals` and `ForAllValues:StringLike` (`*` and `?`) on the
//!   keys `dynamodb:LeadingKeys` and `dynamodb:Attributes`. Several operators or keys in one
//!   `Condition` must all hold. As in IAM, `ForAllValues` holds for an empty set of request
//!   values.
//!
//! Request values, as DynamoDB gives them to IAM: every item action of a transaction is
//! authorised on its own (`dynamodb:PutItem`, `UpdateItem`, `DeleteItem`,
//! `ConditionCheckItem`); a Query of an index needs the index resource; `LeadingKeys` are the
//! partition key values; `Attributes` are the top-level attribute names the request names,
//! key and condition names included (a stricter reading than AWS's, so a policy that passes
//! here passes there). See `group_buy::call_log` for how requests are described.

use group_buy::call_log::ItemAccess;
use serde_yaml_ng::Value as Yaml;
use serde_yaml_ng::value::TaggedValue;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    Table,
    /// An index of the table, by name pattern (`*` for all).
    Index(String),
    /// The table's streams: read by an event source mapping, never by an item access.
    Stream,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operator {
    ForAllValuesStringEquals,
    ForAllValuesStringLike,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConditionKey {
    LeadingKeys,
    Attributes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub operator: Operator,
    pub key: ConditionKey,
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// DynamoDB actions only, `dynamodb:` included.
    pub actions: Vec<String>,
    pub resources: Vec<Resource>,
    pub conditions: Vec<Condition>,
}

/// The DynamoDB part of one function's policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// The write actions: each statement granting one must name the key families it may write.
pub const WRITE_ACTIONS: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
];

impl Policy {
    /// Whether IAM allows `access`; `Err` says why not.
    pub fn allows(&self, access: &ItemAccess) -> Result<(), String> {
        let wanted = match &access.index {
            None => Resource::Table,
            Some(index) => Resource::Index(index.clone()),
        };
        let allowed = self.statements.iter().any(|statement| {
            statement.actions.contains(&access.action)
                && statement.resources.iter().any(|r| covers(r, &wanted))
                && statement.conditions.iter().all(|c| c.holds(access))
        });
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "{} on {} with leading keys {:?} and attributes {:?} is allowed by no statement",
                access.action,
                access
                    .index
                    .as_deref()
                    .map_or("the table".to_owned(), |i| format!("index {i}")),
                access.leading_keys,
                access.attributes,
            ))
        }
    }

    pub fn writes(&self) -> impl Iterator<Item = &Statement> {
        self.statements.iter().filter(|s| {
            s.actions
                .iter()
                .any(|a| WRITE_ACTIONS.contains(&a.as_str()))
        })
    }
}

impl Statement {
    /// The `dynamodb:LeadingKeys` patterns the statement is limited to, if it is.
    pub fn leading_keys(&self) -> Option<&[String]> {
        self.conditions
            .iter()
            .find(|c| c.key == ConditionKey::LeadingKeys)
            .map(|c| c.values.as_slice())
    }

    pub fn attributes(&self) -> Option<&[String]> {
        self.conditions
            .iter()
            .find(|c| c.key == ConditionKey::Attributes)
            .map(|c| c.values.as_slice())
    }
}

fn covers(granted: &Resource, wanted: &Resource) -> bool {
    match (granted, wanted) {
        (Resource::Table, Resource::Table) => true,
        (Resource::Index(pattern), Resource::Index(name)) => glob(pattern, name),
        _ => false,
    }
}

impl Condition {
    fn holds(&self, access: &ItemAccess) -> bool {
        let request_values = match self.key {
            ConditionKey::LeadingKeys => &access.leading_keys,
            ConditionKey::Attributes => &access.attributes,
        };
        request_values.iter().all(|value| {
            self.values.iter().any(|allowed| match self.operator {
                Operator::ForAllValuesStringEquals => allowed == value,
                Operator::ForAllValuesStringLike => glob(allowed, value),
            })
        })
    }
}

/// IAM's `StringLike`: `*` is any run of characters, `?` any one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                backtrack = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    pi = star + 1;
                    ti = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Every function's policy, by its binary name (`BuildProperties.Binary`).
pub fn policies(template: &Yaml, table: &str) -> Result<BTreeMap<String, Policy>, String> {
    let resources = template["Resources"]
        .as_mapping()
        .ok_or("template without Resources")?;
    let mut policies = BTreeMap::new();
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or_default();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .ok_or(format!("{name}: no BuildProperties.Binary"))?;
        let policy = function_policy(template, &resource["Properties"], table)
            .map_err(|e| format!("{name}: {e}"))?;
        policies.insert(binary.to_owned(), policy);
    }
    Ok(policies)
}

fn function_policy(template: &Yaml, properties: &Yaml, table: &str) -> Result<Policy, String> {
    if !properties["PermissionsBoundary"].is_null() {
        return Err("PermissionsBoundary is outside the modelled subset".into());
    }
    if !properties["Role"].is_null() {
        if !properties["Policies"].is_null() {
            return Err("Policies next to Role are ignored by SAM".into());
        }
        return role_policy(template, &properties["Role"], table);
    }
    let documents = match &properties["Policies"] {
        Yaml::Null => return Ok(Policy::default()),
        Yaml::Sequence(documents) => documents,
        _ => return Err("Policies must be a list of inline policies".into()),
    };
    statements_of(documents.iter(), table)
}

/// The policy of the role `Role: !GetAtt <Role>.Arn` names: its inline policies only.
fn role_policy(template: &Yaml, role: &Yaml, table: &str) -> Result<Policy, String> {
    let name = match role {
        Yaml::Tagged(tagged) if tagged.tag == "GetAtt" => tagged
            .value
            .as_str()
            .and_then(|v| v.strip_suffix(".Arn"))
            .ok_or("Role must be !GetAtt <Role>.Arn")?,
        _ => return Err("Role must be !GetAtt <Role>.Arn of a role in the template".into()),
    };
    let role = &template["Resources"][name];
    if role["Type"].as_str() != Some("AWS::IAM::Role") {
        return Err(format!("{name} is not an AWS::IAM::Role of the template"));
    }
    for unsupported in ["ManagedPolicyArns", "PermissionsBoundary"] {
        if !role["Properties"][unsupported].is_null() {
            return Err(format!(
                "{name}: {unsupported} is outside the modelled subset"
            ));
        }
    }
    let documents = role["Properties"]["Policies"].as_sequence().ok_or(format!(
        "{name}: Policies must be a list of inline policies"
    ))?;
    statements_of(documents.iter().map(|p| &p["PolicyDocument"]), table)
}

fn statements_of<'y>(
    documents: impl Iterator<Item = &'y Yaml>,
    table: &str,
) -> Result<Policy, String> {
    let mut statements = Vec::new();
    for document in documents {
        let Some(list) = document["Statement"].as_sequence() else {
            return Err(format!(
                "only inline {{Statement: [...]}} policies are modelled, not {document:?}"
            ));
        };
        for statement in list {
            if let Some(statement) = parse_statement(statement, table)? {
                statements.push(statement);
            }
        }
    }
    Ok(Policy { statements })
}

fn strings(value: &Yaml, what: &str) -> Result<Vec<String>, String> {
    match value {
        Yaml::String(one) => Ok(vec![one.clone()]),
        Yaml::Sequence(many) => many
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(format!("{what}: not a string: {v:?}"))
            })
            .collect(),
        other => Err(format!("{what}: not a string or a list: {other:?}")),
    }
}

/// One statement; `None` when it grants no DynamoDB action.
fn parse_statement(statement: &Yaml, table: &str) -> Result<Option<Statement>, String> {
    let fields = statement
        .as_mapping()
        .ok_or("a statement is not a mapping")?;
    for (field, _) in fields {
        let field = field.as_str().unwrap_or_default();
        if !["Effect", "Action", "Resource", "Condition", "Sid"].contains(&field) {
            return Err(format!(
                "statement field {field} is outside the modelled subset"
            ));
        }
    }
    if statement["Effect"].as_str() != Some("Allow") {
        return Err("only Effect: Allow is modelled".into());
    }
    let actions = strings(&statement["Action"], "Action")?;
    if actions.iter().any(|a| a.contains('*')) {
        return Err(format!(
            "wildcard actions are outside the modelled subset: {actions:?}"
        ));
    }
    let actions: Vec<String> = actions
        .into_iter()
        .filter(|a| a.starts_with("dynamodb:"))
        .collect();
    if actions.is_empty() {
        return Ok(None);
    }
    let resources = match &statement["Resource"] {
        Yaml::Sequence(list) => list
            .iter()
            .map(|r| parse_resource(r, table))
            .collect::<Result<_, _>>()?,
        one => vec![parse_resource(one, table)?],
    };
    let mut conditions = Vec::new();
    if let Some(operators) = statement["Condition"].as_mapping() {
        for (operator, keys) in operators {
            let operator = match operator.as_str() {
                Some("ForAllValues:StringEquals") => Operator::ForAllValuesStringEquals,
                Some("ForAllValues:StringLike") => Operator::ForAllValuesStringLike,
                other => return Err(format!("condition operator {other:?} is not modelled")),
            };
            for (key, values) in keys.as_mapping().ok_or("condition keys not a mapping")? {
                let key = match key.as_str() {
                    Some("dynamodb:LeadingKeys") => ConditionKey::LeadingKeys,
                    Some("dynamodb:Attributes") => ConditionKey::Attributes,
                    other => return Err(format!("condition key {other:?} is not modelled")),
                };
                conditions.push(Condition {
                    operator: operator.clone(),
                    key,
                    values: strings(values, "condition values")?,
                });
            }
        }
    } else if !statement["Condition"].is_null() {
        return Err("Condition must be a mapping".into());
    }
    Ok(Some(Statement {
        actions,
        resources,
        conditions,
    }))
}

fn parse_resource(resource: &Yaml, table: &str) -> Result<Resource, String> {
    let Yaml::Tagged(tagged) = resource else {
        return Err(format!(
            "resource {resource:?} is outside the modelled subset"
        ));
    };
    let TaggedValue { tag, value } = tagged.as_ref();
    let text = value.as_str().unwrap_or_default();
    let table_arn = format!("{table}.Arn");
    if tag == "GetAtt" && text == table_arn {
        return Ok(Resource::Table);
    }
    let index = text
        .strip_prefix(&format!("${{{table_arn}}}/index/"))
        .filter(|i| tag == "Sub" && !i.contains('/'));
    if let Some(index) = index {
        return Ok(Resource::Index(index.to_owned()));
    }
    if tag == "Sub" && text == format!("${{{table_arn}}}/stream/*") {
        return Ok(Resource::Stream);
    }
    Err(format!(
        "resource !{tag} {text} is outside the modelled subset"
    ))
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_match_as_string_like_does() {
        assert!(glob("PAT#*", "PAT#abc"));
        assert!(glob(
            "LIMIT#owner-writes#*",
            "LIMIT#owner-writes#acme#2026-11-24"
        ));
        assert!(!glob("LIMIT#owner-writes#*", "LIMIT#visitor-writes#x"));
        assert!(glob("*", ""));
        assert!(glob("G?#*#*", "GB#a#b"));
        assert!(!glob("GB#*", "GBX#a"));
        assert!(!glob("ROLLUP", "ROLLUP#1"));
    }
}
