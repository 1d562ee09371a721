//! The routes, the functions and the table are declared in several places (the code,
//! `template.yaml`, the `cargo lambda watch` router, the binaries); these tests keep them equal.

use group_buy::Route;
use group_buy::table::{INDEXES, PARTITION_KEY, SORT_KEY, key_attributes};
use serde_yaml_ng::Value as Yaml;
use std::collections::BTreeSet;
use std::path::PathBuf;

type RouteSet = BTreeSet<(String, String, String)>;

fn workspace_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn template() -> Yaml {
    serde_yaml_ng::from_str(&workspace_file("template.yaml")).expect("template.yaml parses")
}

fn code_routes() -> RouteSet {
    Route::ALL
        .iter()
        .map(|r| {
            (
                r.method().to_owned(),
                r.path().to_owned(),
                r.function().to_owned(),
            )
        })
        .collect()
}

fn text(value: &Yaml) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

#[test]
fn template_functions_serve_exactly_the_routes_in_code() {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut declared = RouteSet::new();
    for (_, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        assert_eq!(
            resource["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda")
        );
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        for (_, event) in resource["Properties"]["Events"]
            .as_mapping()
            .expect("Events")
        {
            if event["Type"].as_str() != Some("HttpApi") {
                assert_eq!(
                    binary, "expire-group-buys",
                    "only the expiry runs on a schedule"
                );
                continue;
            }
            let props = &event["Properties"];
            declared.insert((text(&props["Method"]), text(&props["Path"]), binary.clone()));
        }
    }
    assert_eq!(declared, code_routes());
}

#[test]
fn the_watch_router_serves_exactly_the_routes_in_code() {
    let manifest: toml::Table = workspace_file("Cargo.toml")
        .parse()
        .expect("Cargo.toml parses");
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("router table");
    let mut declared = RouteSet::new();
    for (path, routes) in router {
        for route in routes.as_array().expect("routes") {
            declared.insert((
                route["method"].as_str().unwrap_or_default().to_owned(),
                path.clone(),
                route["function"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    assert_eq!(declared, code_routes());
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
            Some("ALL")
        );
    }
}

#[test]
fn every_route_has_a_throttle_on_every_stage() {
    let template = template();
    let settings = template["Resources"]["HttpApi"]["Properties"]["RouteSettings"]
        .as_mapping()
        .expect("RouteSettings");
    let throttled: BTreeSet<String> = settings.keys().map(text).collect();
    let routes: BTreeSet<String> = Route::ALL
        .iter()
        .map(|r| format!("{} {}", r.method(), r.path()))
        .collect();
    assert_eq!(throttled, routes);
    let stages = template["Mappings"]["StageThrottles"]
        .as_mapping()
        .expect("StageThrottles");
    let allowed: BTreeSet<String> = template["Parameters"]["Stage"]["AllowedValues"]
        .as_sequence()
        .expect("AllowedValues")
        .iter()
        .map(text)
        .collect();
    assert_eq!(stages.keys().map(text).collect::<BTreeSet<_>>(), allowed);
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
