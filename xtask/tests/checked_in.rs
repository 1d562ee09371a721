//! The checked-in derived files are exactly what `cargo xtask generate` writes: a route added
//! to the table without regenerating, or a hand edit of `template.yaml` or of the router,
//! fails here (and `cargo xtask check` says the same).

use group_buy::api::routes::http_functions;
use group_buy::api::spec::DEFAULT_ROUTE;
use serde_yaml_ng::Value as Yaml;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_checked_in_files_are_what_generate_writes() {
    let root = root();
    for file in xtask::derive(&root).expect("the sources render") {
        let checked_in = std::fs::read_to_string(root.join(file.path)).expect("readable");
        if checked_in != file.contents {
            let first = checked_in
                .lines()
                .zip(file.contents.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| {
                    checked_in
                        .lines()
                        .count()
                        .min(file.contents.lines().count())
                });
            panic!(
                "{} is stale from line {}: run `cargo xtask generate`",
                file.path,
                first + 1
            );
        }
    }
}

#[test]
fn the_template_starts_by_saying_it_is_generated() {
    let template = std::fs::read_to_string(root().join(xtask::TEMPLATE)).expect("readable");
    assert_eq!(template.lines().next(), Some(xtask::GENERATED));
}

/// What the deploy sees, read back from the generated template: each route's function,
/// throttle and concurrency class, once.
#[test]
fn the_template_deploys_each_route_once_with_its_classes() {
    let root = root();
    let derived = xtask::derive(&root).expect("the sources render");
    let template: Yaml = serde_yaml_ng::from_str(&derived[0].contents).expect("parses");
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut served = BTreeSet::new();
    for resource in resources.values() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values() {
            if event["Type"].as_str() == Some("HttpApi") {
                let props = &event["Properties"];
                served.insert((
                    props["Method"].as_str().unwrap_or_default().to_owned(),
                    props["Path"].as_str().unwrap_or_default().to_owned(),
                    resource["Metadata"]["BuildProperties"]["Binary"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ));
            }
        }
    }
    // SAM's `$default` route is an event with no method and no path.
    let routes: BTreeSet<_> = http_functions()
        .map(|r| {
            let (method, path) = if r.path == DEFAULT_ROUTE {
                ("", "")
            } else {
                (r.method, r.path)
            };
            (method.to_owned(), path.to_owned(), r.function.to_owned())
        })
        .collect();
    assert_eq!(served, routes);

    let settings = &template["Resources"]["HttpApi"]["Properties"]["RouteSettings"];
    for route in http_functions() {
        let key = route.route_key();
        let rate = format!("{:?}", settings[key.as_str()]["ThrottlingRateLimit"]);
        assert!(
            rate.contains(&format!("{}Rate", route.throttle.name())),
            "{key}: {rate}"
        );
        let id = xtask::logical_id(route.function);
        let reserved = format!(
            "{:?}",
            template["Resources"][format!("{id}Function").as_str()]["Properties"]["ReservedConcurrentExecutions"]
        );
        assert!(
            reserved.contains(route.concurrency.name()),
            "{id}: {reserved}"
        );
    }
}
