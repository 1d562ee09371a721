//! What the deployment declares beyond what `cargo xtask generate` derives from the route
//! table. Each route's function, log group, alarms and throttle in `template.yaml`, and the
//! `cargo lambda watch` router, are generated, and the xtask's tests check the checked-in
//! copies are what it writes. What is checked here is hand-written: the binaries, the table,
//! the stages' mappings, the OpenAPI operation ids, the edge and the stream processor.

use group_buy::table::{INDEXES, PARTITION_KEY, SORT_KEY, STREAM_VIEW, key_attributes};
use group_buy::{Access, Route};
use serde_yaml_ng::Value as Yaml;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn workspace_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn template() -> Yaml {
    serde_yaml_ng::from_str(&workspace_file("template.yaml")).expect("template.yaml parses")
}

fn text(value: &Yaml) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

#[test]
fn every_route_has_its_binary() {
    for route in Route::ALL {
        let source = workspace_file(&format!("functions/src/bin/{}.rs", route.function()));
        assert!(
            source.contains(&format!("Route::{route:?})")),
            "{} runs {route:?}",
            route.function()
        );
    }
}

/// The functions `template.yaml` deploys, by binary.
fn template_functions(template: &Yaml) -> Vec<(String, &Yaml)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|r| {
            assert_eq!(
                r["Metadata"]["BuildMethod"].as_str(),
                Some("rust-cargolambda")
            );
            (text(&r["Metadata"]["BuildProperties"]["Binary"]), r)
        })
        .collect()
}

/// Every function the template deploys is a binary of `functions/`, and every binary is
/// deployed (sam build builds each one by name).
#[test]
fn the_template_deploys_exactly_the_binaries() {
    let deployed: BTreeSet<String> = template_functions(&template())
        .into_iter()
        .map(|(binary, _)| binary)
        .collect();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../functions/src/bin");
    let binaries: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| {
            path.file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(deployed, binaries);
}

/// Each function has its least-privilege statements (deploy/policies.yaml) or its own role;
/// without either SAM would give it a role that reaches no table. Every route's function
/// reads the stage's secret (and that secret only); the functions that need no table
/// (visitor challenges are stateless, unmatched requests read nothing) have nothing else.
/// The scheduled and stream functions read no secret.
#[test]
fn every_function_has_its_policies_or_its_role() {
    const TABLELESS: [&str; 2] = ["issue-visitor-challenge", "route-not-found"];
    const SECRETLESS: [&str; 2] = ["expire-group-buys", "group-buy-events"];
    for (binary, function) in template_functions(&template()) {
        let props = &function["Properties"];
        let policies = props["Policies"].as_sequence().cloned().unwrap_or_default();
        let has_role = !props["Role"].is_null();
        let reads_secret = |policy: &Yaml| {
            policy["Statement"][0]["Action"][0].as_str() == Some("secretsmanager:GetSecretValue")
                && format!("{:?}", policy["Statement"][0]["Resource"])
                    .contains("secret:gharart/group-buys/${Stage}-??????")
                && policy["Statement"].as_sequence().map(Vec::len) == Some(1)
        };
        if SECRETLESS.contains(&binary.as_str()) {
            assert!(
                !policies.iter().any(reads_secret),
                "{binary} reads no secret"
            );
        } else {
            assert!(
                policies.first().is_some_and(reads_secret),
                "{binary}: reads the stage's secret"
            );
        }
        if TABLELESS.contains(&binary.as_str()) {
            assert!(
                policies.len() == 1 && !has_role,
                "{binary}: the secret's statement only, no role"
            );
            continue;
        }
        assert!(
            (!policies.is_empty()) ^ has_role,
            "{binary}: policies or a role, one of them"
        );
    }
}

#[test]
fn the_template_table_matches_the_table_in_code() {
    let template = template();
    let table = &template["Resources"]["GroupBuysTable"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    let props = &table["Properties"];
    assert_eq!(props["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));

    let attributes: BTreeSet<(String, String)> = props["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| (text(&a["AttributeName"]), text(&a["AttributeType"])))
        .collect();
    let expected: BTreeSet<(String, String)> = key_attributes()
        .into_iter()
        .map(|name| (name.to_owned(), "S".to_owned()))
        .collect();
    assert_eq!(attributes, expected);

    let key_schema = |keys: &Yaml| -> Vec<(String, String)> {
        keys.as_sequence()
            .expect("KeySchema")
            .iter()
            .map(|k| (text(&k["AttributeName"]), text(&k["KeyType"])))
            .collect()
    };
    let pair = |hash: &str, range: &str| {
        vec![
            (hash.to_owned(), "HASH".to_owned()),
            (range.to_owned(), "RANGE".to_owned()),
        ]
    };
    assert_eq!(
        key_schema(&props["KeySchema"]),
        pair(PARTITION_KEY, SORT_KEY)
    );

    assert_eq!(
        props["StreamSpecification"]["StreamViewType"].as_str(),
        Some(STREAM_VIEW.as_str()),
        "the stream the events are derived from"
    );

    let indexes = props["GlobalSecondaryIndexes"].as_sequence().expect("GSIs");
    assert_eq!(indexes.len(), INDEXES.len());
    for (declared, index) in indexes.iter().zip(INDEXES) {
        assert_eq!(text(&declared["IndexName"]), index.name);
        assert_eq!(
            key_schema(&declared["KeySchema"]),
            pair(index.partition_key, index.sort_key)
        );
        assert_eq!(
            declared["Projection"]["ProjectionType"].as_str(),
            Some(index.projection.as_str())
        );
    }
}

/// The per-stage mappings (throttles, concurrency, operations) have a row for every stage
/// the template accepts: a `!FindInMap` of a missing stage fails only at deploy time. (That
/// every route's throttle and concurrency class is in its rows, `cargo xtask generate`
/// checks.)
#[test]
fn every_stage_has_its_throttles_concurrency_and_operations() {
    let template = template();
    let allowed: BTreeSet<String> = template["Parameters"]["Stage"]["AllowedValues"]
        .as_sequence()
        .expect("AllowedValues")
        .iter()
        .map(text)
        .collect();
    for mapping in ["StageThrottles", "StageConcurrency", "StageOperations"] {
        let stages = template["Mappings"][mapping].as_mapping().expect(mapping);
        assert_eq!(
            stages.keys().map(text).collect::<BTreeSet<_>>(),
            allowed,
            "{mapping}"
        );
    }
}

/// Client generators key operations by id: a shared or missing id drops an operation (as
/// `publish` and `pause` once were, sharing one path item).
#[test]
fn every_route_has_its_own_operation_id_in_openapi() {
    let spec: Yaml =
        serde_yaml_ng::from_str(&workspace_file("openapi.yaml")).expect("openapi.yaml parses");
    let mut ids = BTreeSet::new();
    for route in Route::ALL {
        let operation = &spec["paths"][route.path()][route.method().to_lowercase().as_str()];
        let id = text(&operation["operationId"]);
        assert!(
            !id.is_empty(),
            "{} {} has no operationId",
            route.method(),
            route.path()
        );
        assert!(ids.insert(id.clone()), "operationId {id} is used twice");
    }
}

/// CloudFront's managed cache policy `CachingDisabled` and origin request policy
/// `AllViewerExceptHostHeader` (the same ids in every account).
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// The string under a CloudFormation short-form tag (`!Ref X`, `!Sub "..."`), if `value` is one.
fn tagged<'v>(value: &'v Yaml, tag: &str) -> Option<&'v str> {
    match value {
        Yaml::Tagged(tagged) if tagged.tag == tag => tagged.value.as_str(),
        _ => None,
    }
}

/// The resource `value` (a `!Ref`) names, checked to be of type `kind`.
fn referenced<'t>(template: &'t Yaml, value: &Yaml, kind: &str) -> &'t Yaml {
    let name = tagged(value, "Ref").unwrap_or_else(|| panic!("{value:?} is not a !Ref"));
    let resource = &template["Resources"][name];
    assert_eq!(resource["Type"].as_str(), Some(kind), "{name}");
    resource
}

/// A CloudFront path pattern: `*` is any run of characters, `/` included; `?` is one.
fn path_pattern_matches(pattern: &[u8], path: &[u8]) -> bool {
    match (pattern.split_first(), path.split_first()) {
        (None, None) => true,
        (Some((b'*', rest)), _) => {
            path_pattern_matches(rest, path)
                || (!path.is_empty() && path_pattern_matches(pattern, &path[1..]))
        }
        (Some((b'?', rest)), Some((_, tail))) => path_pattern_matches(rest, tail),
        (Some((p, rest)), Some((c, tail))) => p == c && path_pattern_matches(rest, tail),
        _ => false,
    }
}

fn strings_of(value: &Yaml) -> BTreeSet<String> {
    value
        .as_sequence()
        .map(|items| items.iter().map(text).collect())
        .unwrap_or_default()
}

/// The `max-age` the API sends with the public group-buy GETs.
fn public_max_age() -> u64 {
    use lambda_http::http::{StatusCode, header};
    let reply = group_buy::http::Reply::json(StatusCode::OK, &serde_json::json!({})).public_cache();
    let cache_control = reply.response().headers()[header::CACHE_CONTROL]
        .to_str()
        .expect("Cache-Control")
        .to_owned();
    cache_control
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no max-age in {cache_control:?}"))
}

/// Public reads at the edge: the stage's CloudFront distribution caches the two public
/// group-buy GETs (Access::Public) for at most 10 s, keyed on path and pagination only, and
/// never caches any other route: my-interest, owner, admin and support all pass through to
/// the API with the viewer's credentials.
#[test]
fn the_edge_caches_the_public_group_buy_reads_and_nothing_else() {
    let template = template();
    let distributions: Vec<&Yaml> = template["Resources"]
        .as_mapping()
        .expect("Resources")
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudFront::Distribution"))
        .collect();
    assert_eq!(distributions.len(), 1, "one distribution per stage");
    let config = &distributions[0]["Properties"]["DistributionConfig"];

    let origins = config["Origins"].as_sequence().expect("Origins");
    assert_eq!(origins.len(), 2, "the API and the web front end's bucket");
    let origin_named = |id: &str| {
        origins
            .iter()
            .find(|o| o["Id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("an origin {id}"))
    };
    let origin = origin_named("http-api");
    assert!(
        tagged(&origin["DomainName"], "Sub")
            .is_some_and(|d| d.starts_with("${HttpApi}.execute-api.")),
        "the origin is the stage's HTTP API"
    );
    assert_eq!(tagged(&origin["OriginPath"], "Sub"), Some("/${Stage}"));
    assert_eq!(
        origin["CustomOriginConfig"]["OriginProtocolPolicy"].as_str(),
        Some("https-only")
    );

    // Behaviours in CloudFront's order: the first pattern that matches, else the default.
    let mut behaviours: Vec<(String, &Yaml)> = config["CacheBehaviors"]
        .as_sequence()
        .expect("CacheBehaviors")
        .iter()
        .map(|b| (text(&b["PathPattern"]), b))
        .collect();
    behaviours.push(("(default)".to_owned(), &config["DefaultCacheBehavior"]));
    let serving = |path: &str| -> usize {
        behaviours
            .iter()
            .position(|(pattern, _)| {
                pattern == "(default)" || path_pattern_matches(pattern.as_bytes(), path.as_bytes())
            })
            .expect("the default serves what no pattern does")
    };
    for (_, behaviour) in &behaviours {
        assert_eq!(
            behaviour["ViewerProtocolPolicy"].as_str(),
            Some("https-only")
        );
    }
    // Every /v2 path goes to the API (a path no route has gets the API's own 404), and the
    // rest to the web front end's bucket: reads only, and nothing of the viewer's forwarded.
    let api_serves = |path: &str| {
        let (pattern, behaviour) = &behaviours[serving(path)];
        assert_eq!(
            text(&behaviour["TargetOriginId"]),
            "http-api",
            "{path} ({pattern})"
        );
    };
    api_serves("/v2/no-such-route");
    let (_, web) = &behaviours[serving("/console/index.html")];
    assert_eq!(text(&web["TargetOriginId"]), "web");
    assert_eq!(
        strings_of(&web["AllowedMethods"]),
        strings_of(&web["CachedMethods"])
    );
    assert!(
        strings_of(&web["AllowedMethods"])
            .iter()
            .all(|m| m == "GET" || m == "HEAD")
    );
    assert!(
        web["OriginRequestPolicyId"].is_null(),
        "no viewer header reaches the bucket"
    );
    let web_origin = origin_named("web");
    assert_eq!(
        web_origin["S3OriginConfig"]["OriginAccessIdentity"].as_str(),
        Some(""),
        "origin access control, not the legacy identity"
    );
    let control = &attribute_of(
        &template,
        &web_origin["OriginAccessControlId"],
        "Id",
        "AWS::CloudFront::OriginAccessControl",
    )["Properties"]["OriginAccessControlConfig"];
    assert_eq!(control["SigningBehavior"].as_str(), Some("always"));
    let bucket = &template["Resources"]["WebBucket"]["Properties"];
    for block in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            bucket["PublicAccessBlockConfiguration"][block].as_bool(),
            Some(true),
            "{block}"
        );
    }
    let readers: Vec<&Yaml> =
        template["Resources"]["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("statements")
            .iter()
            .filter(|s| s["Effect"].as_str() == Some("Allow"))
            .collect();
    assert_eq!(readers.len(), 1, "one reader");
    assert_eq!(
        readers[0]["Principal"]["Service"].as_str(),
        Some("cloudfront.amazonaws.com")
    );
    assert!(
        tagged(
            &readers[0]["Condition"]["StringEquals"]["AWS:SourceArn"],
            "Sub"
        )
        .is_some_and(|arn| arn.ends_with(":distribution/${EdgeDistribution}")),
        "only this stage's distribution"
    );

    let max_age = public_max_age();
    let is_cached =
        |behaviour: &Yaml| behaviour["CachePolicyId"].as_str() != Some(CACHING_DISABLED);
    let assert_cached = |path: &str| {
        let (pattern, behaviour) = &behaviours[serving(path)];
        assert!(is_cached(behaviour), "{path} ({pattern}) is cached");
        let policy = &referenced(
            &template,
            &behaviour["CachePolicyId"],
            "AWS::CloudFront::CachePolicy",
        )["Properties"]["CachePolicyConfig"];
        let ttl = |name: &str| {
            policy[name]
                .as_u64()
                .unwrap_or_else(|| panic!("{pattern}: {name}"))
        };
        // MinTTL 0, or CloudFront would keep even a `no-store` answer; DefaultTTL 0, or it
        // would keep answers without Cache-Control (API Gateway's own errors).
        assert_eq!((ttl("MinTTL"), ttl("DefaultTTL")), (0, 0), "{pattern}");
        assert!(
            ttl("MaxTTL") <= 10,
            "{pattern}: the contract allows 10 s at most"
        );
        assert!(
            max_age <= ttl("MaxTTL"),
            "{pattern}: the API's max-age={max_age} is honoured"
        );
        let key = &policy["ParametersInCacheKeyAndForwardedToOrigin"];
        // Origin only (the CORS answer names the storefront): never a credential.
        let headers: Vec<&str> = key["HeadersConfig"]["Headers"]
            .as_sequence()
            .map(|h| h.iter().filter_map(Yaml::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            (key["HeadersConfig"]["HeaderBehavior"].as_str(), headers),
            (Some("whitelist"), vec!["Origin"]),
            "{pattern}: no header but Origin in the key"
        );
        assert_eq!(
            key["CookiesConfig"]["CookieBehavior"].as_str(),
            Some("none"),
            "{pattern}: no cookie in the key"
        );
        match key["QueryStringsConfig"]["QueryStringBehavior"].as_str() {
            Some("none") => {}
            Some("whitelist") => {
                let names = strings_of(&key["QueryStringsConfig"]["QueryStrings"]);
                let pagination: BTreeSet<String> = ["limit", "cursor"].map(String::from).into();
                assert!(
                    names.is_subset(&pagination),
                    "{pattern}: query strings {names:?}"
                );
            }
            other => panic!("{pattern}: query strings {other:?} in the key"),
        }
        // Only reads are cached. Other methods pass (without credentials: see below), so
        // that the API, not CloudFront, answers them: 405 with `Allow` (no route writes
        // there; the loop below checks every write route is served uncached).
        let cached = strings_of(&behaviour["CachedMethods"]);
        assert!(
            cached.iter().all(|m| ["GET", "HEAD"].contains(&m.as_str())),
            "{pattern}: {cached:?}"
        );
        // No credential, visitor id or cookie reaches the API from a cached behaviour, so no
        // personal answer can be made there.
        if !behaviour["OriginRequestPolicyId"].is_null() {
            let forwarded = &referenced(
                &template,
                &behaviour["OriginRequestPolicyId"],
                "AWS::CloudFront::OriginRequestPolicy",
            )["Properties"]["OriginRequestPolicyConfig"];
            assert_eq!(
                forwarded["CookiesConfig"]["CookieBehavior"].as_str(),
                Some("none"),
                "{pattern}"
            );
            match forwarded["HeadersConfig"]["HeaderBehavior"].as_str() {
                Some("none") => {}
                Some("whitelist") => {
                    let headers: BTreeSet<String> =
                        strings_of(&forwarded["HeadersConfig"]["Headers"])
                            .iter()
                            .map(|h| h.to_ascii_lowercase())
                            .collect();
                    assert!(
                        !headers.contains("authorization") && !headers.contains("x-visitor-pass"),
                        "{pattern}: {headers:?}"
                    );
                }
                other => panic!("{pattern}: forwards headers {other:?}"),
            }
        }
    };
    let assert_not_cached = |path: &str, method: &str| {
        let (pattern, behaviour) = &behaviours[serving(path)];
        assert_eq!(
            behaviour["CachePolicyId"].as_str(),
            Some(CACHING_DISABLED),
            "{method} {path} ({pattern}) is never cached"
        );
        assert_eq!(
            behaviour["OriginRequestPolicyId"].as_str(),
            Some(ALL_VIEWER_EXCEPT_HOST),
            "{method} {path} ({pattern}) gets the viewer's headers"
        );
        assert!(
            strings_of(&behaviour["AllowedMethods"]).contains(method),
            "{method} {path} ({pattern})"
        );
    };

    for route in Route::ALL {
        let path = route
            .path()
            .replace("{handle}", "acme-decor")
            .replace("{groupBuySlug}", "spring-vase");
        api_serves(&path);
        // The public writes (visitor challenges and passes) are never cached.
        if route.access() == Access::Public && route.method() == "GET" {
            assert_cached(&path);
        } else {
            assert_not_cached(&path, route.method());
        }
    }
    // The patterns are exact enough: a trailing slash does not turn my-interest into a cached
    // read, and a group-buy whose slug is `my-interest` is still a cached public read.
    assert_not_cached(
        "/v2/public/group-buys/acme-decor/spring-vase/my-interest/",
        "GET",
    );
    assert_cached("/v2/public/group-buys/acme-decor/my-interest");

    // my-interest comes before every cached pattern that would also match it.
    let my_interest = "/v2/public/group-buys/acme-decor/spring-vase/my-interest";
    let served_by = serving(my_interest);
    assert!(
        behaviours[served_by].0.contains("my-interest"),
        "{}",
        behaviours[served_by].0
    );
    for (index, (pattern, behaviour)) in behaviours.iter().enumerate() {
        if is_cached(behaviour) && path_pattern_matches(pattern.as_bytes(), my_interest.as_bytes())
        {
            assert!(served_by < index, "my-interest precedes {pattern}");
        }
    }

    // No error is cached, on any behaviour (CloudFront would keep a 403 for 10 s otherwise).
    let errors = config["CustomErrorResponses"]
        .as_sequence()
        .expect("CustomErrorResponses");
    let codes: BTreeSet<u64> = errors
        .iter()
        .filter_map(|e| e["ErrorCode"].as_u64())
        .collect();
    for code in [400, 403, 404, 405, 414, 500, 501, 502, 503, 504] {
        assert!(
            codes.contains(&code),
            "error {code}: its caching time is set"
        );
    }
    for error in errors {
        assert_eq!(error["ErrorCachingMinTTL"].as_u64(), Some(0), "{error:?}");
    }

    assert!(
        !template["Outputs"]["EdgeUrl"].is_null(),
        "the stage outputs its EdgeUrl"
    );
}

/// The resource a `!GetAtt X.<attribute>` names, checked to be of type `kind`.
fn attribute_of<'t>(template: &'t Yaml, value: &Yaml, attribute: &str, kind: &str) -> &'t Yaml {
    let name = tagged(value, "GetAtt")
        .and_then(|v| v.strip_suffix(&format!(".{attribute}")))
        .unwrap_or_else(|| panic!("{value:?} is not a !GetAtt of {attribute}"));
    let resource = &template["Resources"][name];
    assert_eq!(resource["Type"].as_str(), Some(kind), "{name}");
    resource
}

/// Issue 11: the stream processor is fed in order, reports partial failures, retries a
/// bounded number of times and hands what it could not publish to an alarmed queue; its role
/// may publish to the stage's bus only, send to that queue only and read the table's stream
/// only.
#[test]
fn the_stream_processor_loses_nothing_silently_with_least_privilege() {
    let template = template();
    let resources = &template["Resources"];
    let function = &resources["GroupBuyEventsFunction"];
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"].as_str(),
        Some("group-buy-events")
    );
    let props = &function["Properties"];
    let stream = &props["Events"]["TableStream"];
    assert_eq!(stream["Type"].as_str(), Some("DynamoDB"));
    let source = &stream["Properties"];
    attribute_of(
        &template,
        &source["Stream"],
        "StreamArn",
        "AWS::DynamoDB::Table",
    );
    assert_eq!(source["StartingPosition"].as_str(), Some("TRIM_HORIZON"));
    assert_eq!(
        source["ParallelizationFactor"].as_u64(),
        Some(1),
        "order per item"
    );
    assert!(
        source["BatchSize"]
            .as_u64()
            .is_some_and(|n| (1..=1000).contains(&n))
    );
    assert!(
        source["MaximumBatchingWindowInSeconds"]
            .as_u64()
            .is_some_and(|s| s <= 5)
    );
    assert_eq!(source["BisectBatchOnFunctionError"].as_bool(), Some(true));
    assert!(
        source["MaximumRetryAttempts"]
            .as_i64()
            .is_some_and(|n| (0..=100).contains(&n)),
        "retries are bounded (-1 would retry until the record expires)"
    );
    // A batch given up on reaches the queue with most of the stream's 24 h left to replay it.
    assert!(
        source["MaximumRecordAgeInSeconds"]
            .as_i64()
            .is_some_and(|s| (60..=6 * 3600).contains(&s))
    );
    // The bus keeps every event in an archive, and an alarm fires long before a failed
    // batch's records leave the stream.
    let archive = resources
        .as_mapping()
        .expect("Resources")
        .values()
        .find(|r| r["Type"].as_str() == Some("AWS::Events::Archive"))
        .expect("an archive of the bus");
    assert_eq!(
        tagged(&archive["Properties"]["SourceArn"], "GetAtt"),
        Some("GroupBuyEventBus.Arn")
    );
    let deadline = &resources["EventsReplayDeadlineAlarm"]["Properties"];
    assert_eq!(
        deadline["MetricName"].as_str(),
        Some("ApproximateAgeOfOldestMessage")
    );
    assert!(
        deadline["Threshold"]
            .as_f64()
            .is_some_and(|t| t <= 12.0 * 3600.0)
    );
    assert_eq!(
        strings_of(&source["FunctionResponseTypes"]),
        BTreeSet::from(["ReportBatchItemFailures".to_owned()])
    );
    let destination = &source["DestinationConfig"]["OnFailure"]["Destination"];
    let queue_name = tagged(destination, "GetAtt")
        .and_then(|v| v.strip_suffix(".Arn"))
        .expect("the on-failure destination is a queue of the template");
    attribute_of(&template, destination, "Arn", "AWS::SQS::Queue");

    // An alarm as soon as one batch is in the queue.
    let alarmed = resources
        .as_mapping()
        .expect("Resources")
        .values()
        .any(|r| {
            let p = &r["Properties"];
            r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                && p["Namespace"].as_str() == Some("AWS/SQS")
                && p["MetricName"].as_str() == Some("ApproximateNumberOfMessagesVisible")
                && p["ComparisonOperator"].as_str() == Some("GreaterThanThreshold")
                && p["Threshold"].as_f64() == Some(0.0)
                && tagged(&p["Dimensions"][0]["Value"], "GetAtt")
                    == Some(format!("{queue_name}.QueueName").as_str())
                && !p["AlarmActions"].is_null()
        });
    assert!(alarmed, "an alarm on {queue_name}");

    let bus = referenced(
        &template,
        &props["Environment"]["Variables"]["EVENT_BUS_NAME"],
        "AWS::Events::EventBus",
    );
    assert!(tagged(&bus["Properties"]["Name"], "Sub").is_some_and(|n| n.contains("${Stage}")));

    let role = attribute_of(&template, &props["Role"], "Arn", "AWS::IAM::Role");
    assert!(
        role["Properties"]["ManagedPolicyArns"].is_null(),
        "no managed policy"
    );
    let statements: Vec<Yaml> = role["Properties"]["Policies"]
        .as_sequence()
        .expect("inline policies")
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let granted = |action: &str| -> Vec<&Yaml> {
        statements
            .iter()
            .filter(|s| strings_of(&s["Action"]).contains(action))
            .map(|s| &s["Resource"])
            .collect()
    };
    let publish = granted("events:PutEvents");
    assert_eq!(publish.len(), 1);
    attribute_of(&template, publish[0], "Arn", "AWS::Events::EventBus");
    let send = granted("sqs:SendMessage");
    assert_eq!(send.len(), 1);
    assert_eq!(
        tagged(send[0], "GetAtt"),
        Some(format!("{queue_name}.Arn").as_str())
    );
    for read in [
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:DescribeStream",
    ] {
        let resources = granted(read);
        assert_eq!(resources.len(), 1, "{read}");
        assert_eq!(
            tagged(resources[0], "Sub"),
            Some("${GroupBuysTable.Arn}/stream/*"),
            "{read}: the table's stream only"
        );
    }
    for statement in &statements {
        for action in strings_of(&statement["Action"]) {
            assert!(!action.contains('*'), "no wildcard action: {action}");
            if !action.starts_with("xray:") {
                assert_ne!(statement["Resource"].as_str(), Some("*"), "{action} on *");
            }
        }
    }
}

/// checkov (run by the test command on both templates) must report no failed check; a check
/// that does not apply to a resource is skipped there, and each skip says why in one line.
#[test]
fn every_checkov_skip_says_why() {
    for name in ["template.yaml", "deploy/edge-waf.yaml"] {
        let template: Yaml = serde_yaml_ng::from_str(&workspace_file(name)).expect(name);
        let resources = template["Resources"].as_mapping().expect("Resources");
        for (id, resource) in resources {
            let Some(skips) = resource["Metadata"]["checkov"]["skip"].as_sequence() else {
                continue;
            };
            for skip in skips {
                let check = text(&skip["id"]);
                let why = text(&skip["comment"]);
                assert!(check.starts_with("CKV"), "{name} {id:?}: {skip:?}");
                assert!(
                    why.len() > 20 && !why.contains('\n'),
                    "{name} {id:?} {check}: one line of why"
                );
            }
        }
    }
}
