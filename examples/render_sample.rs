//! Writes BSON documents covering every type (DIR/docs.bson) and our JSON rendering of each
//! (DIR/rust.jsonl), for scripts/js-check to compare with what js-bson and JSON.stringify
//! make of the same bytes: `cargo run --example render_sample DIR`.

use mongodb::bson::{
    doc, oid::ObjectId, spec::BinarySubtype, Binary, Bson, DateTime, Decimal128,
    JavaScriptCodeWithScope, Regex, Timestamp,
};

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: render_sample DIR"));
    let decimals = [
        "1234.5600",
        "-0.001",
        "0",
        "-0",
        "1E+10",
        "1.23E-40",
        "NaN",
        "Infinity",
        "-Infinity",
        "1234567890123456789012345678901234",
        "0.0000001",
        "1E+6144",
    ];
    let doubles = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        0.1,
        1e21,
        1e-7,
        123456789012345680000.0,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        1.0 / 3.0,
        100.0,
        1e20,
        2e-6,
        f64::NAN,
        f64::INFINITY,
    ];
    let dates = [
        0_i64,
        -1,
        1_565_381_882_350,
        253_402_300_799_999,
        253_402_300_800_000,
        -62_167_219_200_001,
        -62_167_219_200_000,
        8_640_000_000_000_000,
        -8_640_000_000_000_000,
        8_640_000_000_000_001,
        i64::MAX,
        i64::MIN,
    ];
    let mut docs = vec![
        doc! {"s": "a\"b\\c\n\t\u{1}\u{7f}\u{2028}é😀", "b": true, "n": Bson::Null, "i": 42, "neg": -7},
        doc! {"l": 9_007_199_254_740_991_i64, "small": 5_i64, "negl": -3_i64},
        doc! {"oid": ObjectId::parse_str("5d4dd4ea0e3b0f0a1c2b3d4e").unwrap(), "nested": {"a": [1, {"b": []}, {}]}},
        doc! {"r": Regex { pattern: "^a".into(), options: "i".into() }, "min": Bson::MinKey, "max": Bson::MaxKey},
        doc! {"u": Bson::Undefined, "arr": [1, Bson::Undefined, 2], "after": 1},
        doc! {"bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3, 250] }, "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![7; 16] }},
        doc! {"old": Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![9, 8, 7] }, "empty": Binary { subtype: BinarySubtype::Generic, bytes: vec![] }, "md5": Binary { subtype: BinarySubtype::Md5, bytes: vec![1; 16] }, "user": Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: vec![255] }},
        doc! {"ts": Timestamp { time: 1, increment: 2 }, "ts2": Timestamp { time: 4_000_000_000, increment: 5 }},
        doc! {"code": Bson::JavaScriptCode("f()".into()), "cws": Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code: "g()".into(), scope: doc! {"x": 1} }), "sym": Bson::Symbol("sym".into())},
    ];
    let pointer = Bson::try_from(serde_json::json!({
        "$dbPointer": {"$ref": "db.coll", "$id": {"$oid": "5d4dd4ea0e3b0f0a1c2b3d4e"}}
    }))
    .unwrap();
    docs.push(doc! {"p": pointer});
    docs.push(
        decimals
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (
                    format!("d{i}"),
                    Bson::Decimal128(d.parse::<Decimal128>().unwrap()),
                )
            })
            .collect(),
    );
    docs.push(
        doubles
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("f{i}"), Bson::Double(*d)))
            .collect(),
    );
    docs.push(
        dates
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("t{i}"), Bson::DateTime(DateTime::from_millis(*d))))
            .collect(),
    );
    let mut bson = Vec::new();
    let mut json = String::new();
    for d in &docs {
        d.to_writer(&mut bson).unwrap();
        let raw = mongodb::bson::RawDocumentBuf::from_document(d).unwrap();
        let mut out = Vec::new();
        livechat_rooms::render::document(&mut out, &raw).unwrap();
        json.push_str(&String::from_utf8(out).unwrap());
        json.push('\n');
    }
    std::fs::write(dir.join("docs.bson"), bson).unwrap();
    std::fs::write(dir.join("rust.jsonl"), json).unwrap();
}
