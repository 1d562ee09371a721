//! The edge's WAF rules (deploy/edge-waf.yaml), checked against traffic by an evaluator of
//! our own: nothing local runs AWS WAF. It models what the rules use (byte and regex matches
//! on the method and the path, AND/OR/NOT, label matches, managed groups that count, and
//! rate-based rules keyed on the IP or a header over a sliding window, counting every request
//! they see) and nothing else: AWS enforces a rate limit within some seconds of it being
//! crossed, so its numbers are ceilings reached a little late, not exact cut-offs.

use regex::Regex;
use serde_yaml_ng::Value as Yaml;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

fn yaml(name: &str) -> Yaml {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One request as the edge sees it.
#[derive(Clone)]
struct Request {
    at_ms: u64,
    ip: &'static str,
    method: &'static str,
    path: String,
    authorization: Option<String>,
}

/// What the edge does with a request.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allowed,
    Blocked { rule: String, status: u64 },
}

struct RateState {
    window_ms: u64,
    limit: usize,
    seen: BTreeMap<String, VecDeque<u64>>,
}

/// The web ACL of one stage, as rules in priority order.
struct WebAcl {
    rules: Vec<Yaml>,
    mappings: Yaml,
    stage: &'static str,
    rates: BTreeMap<String, RateState>,
}

impl WebAcl {
    fn of(stage: &'static str) -> Self {
        let template = yaml("deploy/edge-waf.yaml");
        let acl = &template["Resources"]["WebAcl"]["Properties"];
        assert_eq!(acl["Scope"].as_str(), Some("CLOUDFRONT"));
        assert!(acl["DefaultAction"]["Allow"].is_mapping());
        let mut rules = acl["Rules"].as_sequence().expect("rules").clone();
        rules.sort_by_key(|r| r["Priority"].as_u64().expect("a priority"));
        Self {
            rules,
            mappings: template["Mappings"].clone(),
            stage,
            rates: BTreeMap::new(),
        }
    }

    /// `!FindInMap [StageRates, !Ref Stage, KEY]`, or a plain number.
    fn number(&self, value: &Yaml) -> u64 {
        match value {
            Yaml::Number(n) => n.as_u64().expect("a whole number"),
            Yaml::Tagged(tagged) if tagged.tag == "FindInMap" => {
                let args = tagged.value.as_sequence().expect("FindInMap's list");
                let map = args[0].as_str().expect("a mapping");
                let key = args[2].as_str().expect("a key");
                self.mappings[map][self.stage][key]
                    .as_u64()
                    .expect("a mapped number")
            }
            other => panic!("not modelled: {other:?}"),
        }
    }

    fn matches(&self, statement: &Yaml, request: &Request) -> bool {
        let field = |s: &Yaml| -> String {
            let to_match = &s["FieldToMatch"];
            if to_match["UriPath"].is_mapping() {
                request.path.clone()
            } else if to_match["Method"].is_mapping() {
                request.method.to_owned()
            } else {
                panic!("field not modelled: {to_match:?}")
            }
        };
        if let Some(byte) = statement.get("ByteMatchStatement") {
            let text = field(byte);
            let search = byte["SearchString"].as_str().expect("SearchString");
            return match byte["PositionalConstraint"].as_str() {
                Some("EXACTLY") => text == search,
                Some("STARTS_WITH") => text.starts_with(search),
                other => panic!("constraint not modelled: {other:?}"),
            };
        }
        if let Some(regex) = statement.get("RegexMatchStatement") {
            let pattern = Regex::new(regex["RegexString"].as_str().expect("regex")).expect("valid");
            return pattern.is_match(&field(regex));
        }
        if let Some(and) = statement.get("AndStatement") {
            let all = and["Statements"].as_sequence().expect("statements");
            return all.iter().all(|s| self.matches(s, request));
        }
        if let Some(or) = statement.get("OrStatement") {
            let any = or["Statements"].as_sequence().expect("statements");
            return any.iter().any(|s| self.matches(s, request));
        }
        if let Some(not) = statement.get("NotStatement") {
            return !self.matches(&not["Statement"], request);
        }
        // The managed groups label only what they take for an attack; this traffic is not.
        if statement.get("LabelMatchStatement").is_some() {
            return false;
        }
        panic!("statement not modelled: {statement:?}")
    }

    fn evaluate(&mut self, request: &Request) -> Verdict {
        for index in 0..self.rules.len() {
            let rule = self.rules[index].clone();
            let name = rule["Name"].as_str().expect("a name").to_owned();
            let statement = &rule["Statement"];
            if statement.get("ManagedRuleGroupStatement").is_some() {
                // Counted, never acted on here: the label rule acts for them.
                assert!(rule["OverrideAction"]["Count"].is_mapping(), "{name}");
                continue;
            }
            let matched = match statement.get("RateBasedStatement") {
                Some(rate) => self.over_rate(&name, rate, request),
                None => self.matches(statement, request),
            };
            if matched {
                let block = &rule["Action"]["Block"];
                assert!(block.is_mapping(), "{name} blocks");
                let status = block["CustomResponse"]["ResponseCode"]
                    .as_u64()
                    .expect("a custom response");
                return Verdict::Blocked { rule: name, status };
            }
        }
        Verdict::Allowed
    }

    /// Counts `request` against the rate rule `name` (if in its scope and it has the key) and
    /// tells whether the key is over the limit in the window ending now.
    fn over_rate(&mut self, name: &str, rate: &Yaml, request: &Request) -> bool {
        if let Some(scope) = rate.get("ScopeDownStatement")
            && !self.matches(scope, request)
        {
            return false;
        }
        let key = match rate["AggregateKeyType"].as_str() {
            Some("IP") => request.ip.to_owned(),
            Some("CUSTOM_KEYS") => {
                let header = rate["CustomKeys"][0]["Header"]["Name"].as_str();
                assert_eq!(header, Some("authorization"), "{name}");
                // A request without the key is not counted by the rule.
                match &request.authorization {
                    Some(value) => value.clone(),
                    None => return false,
                }
            }
            other => panic!("aggregate not modelled: {other:?}"),
        };
        let window_ms = 1000 * self.number(&rate["EvaluationWindowSec"]);
        let limit = usize::try_from(self.number(&rate["Limit"])).expect("a limit");
        let state = self
            .rates
            .entry(name.to_owned())
            .or_insert_with(|| RateState {
                window_ms,
                limit,
                seen: BTreeMap::new(),
            });
        let seen = state.seen.entry(key).or_default();
        seen.push_back(request.at_ms);
        while seen
            .front()
            .is_some_and(|t| *t + state.window_ms <= request.at_ms)
        {
            seen.pop_front();
        }
        seen.len() > state.limit
    }
}

fn rate(stage: &str, key: &str) -> usize {
    let template = yaml("deploy/edge-waf.yaml");
    let value = template["Mappings"]["StageRates"][stage][key]
        .as_u64()
        .expect("a rate");
    usize::try_from(value).expect("fits")
}

/// `count` requests evenly over `seconds`, from `ip`.
fn spread(
    count: u64,
    seconds: u64,
    ip: &'static str,
    method: &'static str,
    path: impl Fn(u64) -> String,
    authorization: impl Fn(u64) -> Option<String>,
) -> Vec<Request> {
    (0..count)
        .map(|i| Request {
            at_ms: i * seconds * 1000 / count,
            ip,
            method,
            path: path(i),
            authorization: authorization(i),
        })
        .collect()
}

fn allowed(acl: &mut WebAcl, requests: &[Request]) -> Vec<bool> {
    requests
        .iter()
        .map(|r| acl.evaluate(r) == Verdict::Allowed)
        .collect()
}

/// The flood the review found: junk owner writes with made-up bearer tokens, 20 a second from
/// one address, for five minutes. The first minute's allowance passes, then the address is
/// blocked for as long as it keeps it up; an owner elsewhere is never touched. What passes
/// stays within what the owner write throttle of template.yaml absorbs in one minute.
#[test]
fn a_junk_token_flood_from_one_address_is_cut_to_its_first_minutes_allowance() {
    let template = yaml("template.yaml");
    for stage in ["dev", "staging", "prod"] {
        let mut acl = WebAcl::of(stage);
        let mut requests = spread(
            20 * 300,
            300,
            "198.51.100.7",
            "POST",
            |i| format!("/v2/handles/acme-decor/group-buys/lamp-{i}/pause"),
            |i| Some(format!("Bearer junk-{i}")),
        );
        // A real owner, from elsewhere, with one token, at 24 writes a minute.
        requests.extend(spread(
            120,
            300,
            "203.0.113.9",
            "POST",
            |_| "/v2/handles/acme-decor/group-buys/lamp/close".into(),
            |_| Some("Bearer real-owner".into()),
        ));
        requests.sort_by_key(|r| r.at_ms);
        let verdicts = allowed(&mut acl, &requests);
        let flood_passed = requests
            .iter()
            .zip(&verdicts)
            .filter(|(r, ok)| **ok && r.ip == "198.51.100.7")
            .count();
        let owner_refused = requests
            .iter()
            .zip(&verdicts)
            .filter(|(r, ok)| !**ok && r.ip == "203.0.113.9")
            .count();
        let per_ip = rate(stage, "OwnerPerIp");
        assert_eq!(flood_passed, per_ip, "{stage}");
        assert_eq!(owner_refused, 0, "{stage}");
        let throttle = &template["Mappings"]["StageThrottles"][stage];
        let rate = throttle["OwnerWriteRate"].as_u64().expect("rate");
        let burst = throttle["OwnerWriteBurst"].as_u64().expect("burst");
        assert!(
            per_ip as u64 <= burst + 60 * rate,
            "{stage}: {per_ip} junk writes a minute would outlast the owner write throttle"
        );
    }
}

/// One credential, however many addresses it comes from, gets the per-credential allowance.
#[test]
fn one_credential_from_many_addresses_is_limited_too() {
    const IPS: [&str; 4] = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"];
    let mut acl = WebAcl::of("prod");
    let requests: Vec<Request> = (0..400u64)
        .map(|i| Request {
            at_ms: i * 100,
            ip: IPS[(i % 4) as usize],
            method: "GET",
            path: "/v2/handles/acme-decor/group-buys".into(),
            authorization: Some("Bearer ghpat_leaked".into()),
        })
        .collect();
    let passed = allowed(&mut acl, &requests)
        .iter()
        .filter(|ok| **ok)
        .count();
    assert_eq!(passed, rate("prod", "OwnerPerCredential"));
}

/// A storefront's visitors behind one NAT address (a mobile carrier's, an office's): their
/// registrations within the public-writes allowance all pass; their reads are not counted by
/// it; new visitors' passes are limited on their own.
#[test]
fn a_storefront_behind_one_address_keeps_its_allowances() {
    for stage in ["dev", "staging", "prod"] {
        let writes = rate(stage, "PublicWritesPerIp");
        let passes = rate(stage, "PassesPerIp");
        let mut acl = WebAcl::of(stage);
        let mut requests = spread(
            writes as u64,
            60,
            "100.64.0.1",
            "PUT",
            |_| "/v2/public/group-buys/acme-decor/lamp/my-interest".into(),
            |_| None,
        );
        requests.extend(spread(
            2 * writes as u64,
            60,
            "100.64.0.1",
            "GET",
            |_| "/v2/public/group-buys/acme-decor/lamp".into(),
            |_| None,
        ));
        requests.sort_by_key(|r| r.at_ms);
        assert!(allowed(&mut acl, &requests).iter().all(|ok| *ok), "{stage}");

        // One more write in the same minute is refused, as 429.
        let over = Request {
            at_ms: 59_999,
            ip: "100.64.0.1",
            method: "DELETE",
            path: "/v2/public/group-buys/acme-decor/lamp/my-interest".into(),
            authorization: None,
        };
        assert_eq!(
            acl.evaluate(&over),
            Verdict::Blocked {
                rule: "public-writes-per-ip".into(),
                status: 429
            },
            "{stage}"
        );

        // Challenges and passes: PassesPerIp a minute (a new visitor needs one of each).
        let mut acl = WebAcl::of(stage);
        let issued = spread(
            2 * passes as u64,
            60,
            "100.64.0.2",
            "POST",
            |i| match i % 2 {
                0 => "/v2/public/visitor-challenges".into(),
                _ => "/v2/public/visitor-passes".into(),
            },
            |_| None,
        );
        let passed = allowed(&mut acl, &issued).iter().filter(|ok| **ok).count();
        assert_eq!(passed, passes, "{stage}");
    }
}

/// Every refusal of the edge is the API's own problem+json: each block has a custom response
/// whose body is one of the ACL's, and that body parses with its code and status.
#[test]
fn every_block_answers_problem_json() {
    let template = yaml("deploy/edge-waf.yaml");
    let acl = &template["Resources"]["WebAcl"]["Properties"];
    let bodies = acl["CustomResponseBodies"].as_mapping().expect("bodies");
    for rule in acl["Rules"].as_sequence().expect("rules") {
        let name = rule["Name"].as_str().expect("name");
        if rule["Statement"].get("ManagedRuleGroupStatement").is_some() {
            assert!(rule["OverrideAction"]["Count"].is_mapping(), "{name}");
            continue;
        }
        let response = &rule["Action"]["Block"]["CustomResponse"];
        let key = response["CustomResponseBodyKey"].as_str().expect(name);
        let body = &bodies[&Yaml::from(key)];
        assert_eq!(
            body["ContentType"].as_str(),
            Some("APPLICATION_JSON"),
            "{name}"
        );
        let problem: serde_json::Value =
            serde_json::from_str(body["Content"].as_str().expect("content")).expect(name);
        assert_eq!(
            problem["status"],
            response["ResponseCode"].as_u64().expect(name)
        );
        assert!(
            problem["code"].is_string() && problem["title"].is_string(),
            "{name}"
        );
    }
    // The managed groups the issue asks for, and the rule that blocks what they label.
    let groups: Vec<&str> = acl["Rules"]
        .as_sequence()
        .expect("rules")
        .iter()
        .filter_map(|r| r["Statement"]["ManagedRuleGroupStatement"]["Name"].as_str())
        .collect();
    for group in [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ] {
        assert!(groups.contains(&group), "{group}");
    }
}
