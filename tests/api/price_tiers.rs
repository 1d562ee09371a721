//! Price tiers: validated at create, stored on the group-buy and its tally, and every view
//! showing `priceTiers`, `currentUnitPriceMinor` and `nextTier`.

use aws_sdk_dynamodb::types::AttributeValue;
use group_buy::Route;
use group_buy_tests::{Call, HANDLE, TestApp, Visitor, spawn_app};
use serde_json::{Value, json};

fn tiers() -> Value {
    json!([
        {"minParticipants": 2, "unitPriceMinor": 900},
        {"minParticipants": 3, "unitPriceMinor": 800}
    ])
}

fn tiered(slug: &str) -> Value {
    json!({
        "slug": slug, "title": "Brass lamp", "currency": "INR", "unitPriceMinor": 1000,
        "minParticipants": 1, "maxParticipants": 10, "priceTiers": tiers()
    })
}

fn public_get(slug: &str) -> Call {
    Call::new(
        Route::GetPublicGroupBuy,
        format!("/v2/public/group-buys/{HANDLE}/{slug}"),
    )
}

fn pricing(view: &Value) -> (Value, Value, Value) {
    (
        view["priceTiers"].clone(),
        view["currentUnitPriceMinor"].clone(),
        view["nextTier"].clone(),
    )
}

#[tokio::test]
async fn the_price_follows_the_participants_in_every_view() {
    let app = spawn_app().await;
    let created = app.create(&tiered("lamp-drop")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        pricing(&created.body),
        (
            tiers(),
            json!(1000),
            json!({"minParticipants": 2, "unitPriceMinor": 900, "participantsNeeded": 2})
        )
    );
    let published = app
        .transition("lamp-drop", Route::PublishGroupBuy, None)
        .await;
    assert_eq!(published.body["currentUnitPriceMinor"], 1000);

    let first = app.register("lamp-drop", &Visitor::anonymous(), None).await;
    assert_eq!(first.status, 201);
    assert_eq!(
        first.body["groupBuy"]["nextTier"]["participantsNeeded"], 1,
        "{}",
        first.body
    );
    let second = app.register("lamp-drop", &Visitor::anonymous(), None).await;
    assert_eq!(
        pricing(&second.body["groupBuy"]),
        (
            tiers(),
            json!(900),
            json!({"minParticipants": 3, "unitPriceMinor": 800, "participantsNeeded": 1})
        )
    );
    app.register("lamp-drop", &Visitor::anonymous(), None).await;

    let reached_all = (tiers(), json!(800), Value::Null);
    assert_eq!(pricing(&app.get("lamp-drop", "").await.body), reached_all);
    assert_eq!(
        pricing(&app.send(public_get("lamp-drop")).await.body),
        reached_all
    );
    let public_list = app
        .send(Call::new(
            Route::ListPublicGroupBuys,
            format!("/v2/public/group-buys/{HANDLE}"),
        ))
        .await;
    assert_eq!(pricing(&public_list.body["items"][0]), reached_all);
    let owner_list = app
        .send(
            Call::new(
                Route::ListGroupBuys,
                format!("/v2/handles/{HANDLE}/group-buys"),
            )
            .bearer(&group_buy_tests::owner_token()),
        )
        .await;
    assert_eq!(pricing(&owner_list.body["items"][0]), reached_all);
    let paused = app
        .transition("lamp-drop", Route::PauseGroupBuy, None)
        .await;
    assert_eq!(pricing(&paused.body), reached_all);
}

#[tokio::test]
async fn without_tiers_the_price_is_the_unit_price() {
    let app = spawn_app().await;
    let published = app.published("lamp-drop", json!({})).await;
    assert_eq!(
        pricing(&published),
        (json!([]), published["unitPriceMinor"].clone(), Value::Null)
    );
    let own = app.item("lamp-drop", "GB").await;
    assert!(
        !own.contains_key("priceTiers"),
        "absent when there are none"
    );
}

#[tokio::test]
async fn tiers_are_stored_on_the_group_buy_and_its_tally() {
    let app = spawn_app().await;
    assert_eq!(app.create(&tiered("lamp-drop")).await.status, 201);
    let stored =
        |item: std::collections::HashMap<String, AttributeValue>| -> Vec<(String, String)> {
            let Some(AttributeValue::L(tiers)) = item.get("priceTiers") else {
                panic!("priceTiers is a list: {item:?}");
            };
            tiers
                .iter()
                .map(|tier| {
                    let tier = tier.as_m().expect("a map");
                    let number = |name: &str| tier[name].as_n().expect("a number").clone();
                    (number("minParticipants"), number("unitPriceMinor"))
                })
                .collect()
        };
    let expected = vec![
        ("2".to_owned(), "900".to_owned()),
        ("3".into(), "800".into()),
    ];
    assert_eq!(stored(app.item("lamp-drop", "GB").await), expected);
    assert_eq!(stored(app.item("lamp-drop", "GB#TALLY").await), expected);
}

async fn bad_fields(app: &TestApp, tiers: Value) -> Vec<String> {
    let mut body = tiered("lamp-drop");
    body["priceTiers"] = tiers;
    let refused = app.create(&body).await;
    assert_eq!(
        (refused.status, refused.code()),
        (400, "VALIDATION_FAILED"),
        "{}",
        refused.body
    );
    refused.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn invalid_tiers_are_400_naming_each_bad_member_and_create_nothing() {
    let app = spawn_app().await;
    assert_eq!(
        bad_fields(
            &app,
            json!([
                {"minParticipants": 2, "unitPriceMinor": 900},
                {"minParticipants": 2, "unitPriceMinor": 950}
            ])
        )
        .await,
        [
            "priceTiers[1].minParticipants",
            "priceTiers[1].unitPriceMinor"
        ]
    );
    assert_eq!(
        bad_fields(
            &app,
            json!([{"minParticipants": 2, "unitPriceMinor": 1000}])
        )
        .await,
        ["priceTiers[0].unitPriceMinor"],
        "not below the unit price"
    );
    assert_eq!(
        bad_fields(
            &app,
            json!([{"minParticipants": 11, "unitPriceMinor": 900}])
        )
        .await,
        ["priceTiers[0].minParticipants"],
        "above maxParticipants: never reached"
    );
    assert_eq!(
        bad_fields(
            &app,
            json!([{"minParticipants": 0, "unitPriceMinor": 900, "label": "x"}])
        )
        .await,
        ["priceTiers[0].label", "priceTiers[0].minParticipants"]
    );
    let six: Vec<Value> = (1..=6)
        .map(|i| json!({"minParticipants": i, "unitPriceMinor": 1000 - i}))
        .collect();
    assert_eq!(bad_fields(&app, json!(six)).await, ["priceTiers"]);
    assert_eq!(bad_fields(&app, json!("cheaper")).await, ["priceTiers"]);
    assert!(app.all_items().await.is_empty(), "nothing was created");
}
