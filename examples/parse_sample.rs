//! Prints, as JSON, how this service reads sample dates and query strings, for scripts/js-check to
//! compare with JavaScript's `Date.parse` and the `qs` package: `cargo run --example parse_sample`.
//! With `--typed FILE` (a JSON array of query strings) it prints instead how each is typed, or the
//! 400 it gets, for the comparison with Rocket.Chat 8's published validator.
//! Left out on purpose: V8's non-ISO fallbacks (`"2018-1-26"`, `"-000000-01-01"`, `"Jan 26 2018"`),
//! which this service rejects (README, "Differences").

use livechat_rooms::rooms::params::{Param, QsValue, RawRoomsParams};
use livechat_rooms::rooms::query::{Typed, TypedParams};

const DATES: &[&str] = &[
    "2018-01-26",
    "2018-01",
    "2018",
    "2018-01-26T00:11:22Z",
    "2018-01-26T00:11:22.345Z",
    "2018-01-26T00:11:22.3456789Z",
    "2018-01-26T00:11:22.3Z",
    "2018-01-26T02:11:22+02:00",
    "2018-01-25T22:11-02:00",
    "2018-01-26T00:11:22",
    "2018-01-26T00:11",
    "2018-01-26T24:00",
    "2018-01-26T24:00:00.000Z",
    "2018-02-31",
    "2018-02-30T10:00Z",
    "+002018-01-26",
    "-000001-01-01",
    "+275760-09-13T00:00:00.000Z",
    "-271821-04-20T00:00:00.000Z",
    "0000-01-01",
    "2018-13-01",
    "2018-00-10",
    "2018-01-32",
    "2018-01-26T25:00",
    "2018-01-26T24:01",
    "2018-01-26T00:60",
    "2018-01-26T00:00:60",
    "2018-01-26T00:11:22.Z",
    "2018-01-26T00",
    "+275761-01-01",
    "2018-01-26T00:00+24:00",
    "",
    "nope",
];

const QUERIES: &[&str] = &[
    "agents[]=a&agents[]=b", "agents=a", "agents=a&agents=b", "agents[1]=b&agents[0]=a",
    "agents[0]=a&agents[2]=c", "agents[20]=x", "agents[21]=x", "agents[a]=x", "agents[0][x]=a",
    "agents[]=a&agents=b", "agents=a&agents[]=b", "agents[01]=x", "agents[=x", "agents]=x",
    "room%4Eame=Ada+L%C3%B6we", "roomName=100%+off", "roomName=%FF", "roomName", "roomName=a=b",
    "roomName=a&roomName=", "open[]=true", "open[a]=true", "departmentId[test]=true",
    "agents%5B%5D=x%26y", "tags[]=", "units[0]=a&units[0]=b", "sort=%7B%22a%22%3A1%7D",
    "count=5&count=6", "customFields[a]=b", "&&onhold=t&", "queued[]=1", "[]=x", "fields=a%3Db",
    "agents[19]=x", "agents[0]=a&agents[0]=b", "agents=a&agents[5]=b", "agents[1]=y&agents[]=x",
    "agents[a]b=x", "agents[]]=x", "agents[[a]]=x", "agents[b=x", "agents[]x=1",
    "agents[0]=a&agents[]=b", "agents[2]=c&agents[0]=a&agents=z",
    "tags=1&tags=2&tags=3&tags=4&tags=5&tags=6&tags=7&tags=8&tags=9&tags=10&tags=11&tags=12&tags=13&tags=14&tags=15&tags=16&tags=17&tags=18&tags=19&tags=20",
    "tags=1&tags=2&tags=3&tags=4&tags=5&tags=6&tags=7&tags=8&tags=9&tags=10&tags=11&tags=12&tags=13&tags=14&tags=15&tags=16&tags=17&tags=18&tags=19&tags=20&tags=21",
    "units[]=1&units[]=2&units[]=3&units[]=4&units[]=5&units[]=6&units[]=7&units[]=8&units[]=9&units[]=10&units[]=11&units[]=12&units[]=13&units[]=14&units[]=15&units[]=16&units[]=17&units[]=18&units[]=19&units[]=20&units[]=21",
];

fn qs_json(value: QsValue) -> serde_json::Value {
    match value {
        QsValue::Str(s) => serde_json::json!({"str": s}),
        QsValue::Array(items) => serde_json::json!({"array": items}),
        QsValue::Object => serde_json::json!("object"),
    }
}

fn typed_json(query: &str) -> serde_json::Value {
    match TypedParams::coerce(RawRoomsParams::from_query_string(query)) {
        Err(err) => serde_json::json!({"error": err.to_string()}),
        Ok(typed) => {
            let params: serde_json::Map<_, _> = typed
                .iter()
                .map(|(param, value)| {
                    let value = match value {
                        Typed::Text(s) => serde_json::json!(s),
                        Typed::List(items) => serde_json::json!(items),
                        Typed::Number(n) => serde_json::json!(n),
                    };
                    (param.name().to_owned(), value)
                })
                .collect();
            serde_json::json!({"params": params})
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, file] = args.as_slice() {
        assert_eq!(flag, "--typed", "usage: parse_sample [--typed FILE]");
        let text = std::fs::read_to_string(file).expect("the query file is readable");
        let queries: Vec<String> = serde_json::from_str(&text).expect("a JSON array of strings");
        let typed: Vec<_> = queries.iter().map(|q| typed_json(q)).collect();
        println!("{}", serde_json::Value::Array(typed));
        return;
    }
    let dates: Vec<_> = DATES
        .iter()
        .map(|d| serde_json::json!([d, livechat_rooms::jsdate::parse(d)]))
        .collect();
    let queries: Vec<_> = QUERIES
        .iter()
        .map(|q| {
            let p = RawRoomsParams::from_query_string(q);
            let parsed: serde_json::Map<_, _> = Param::ALL
                .iter()
                .filter_map(|param| {
                    Some((param.name().to_owned(), qs_json(p.get(*param)?.clone())))
                })
                .collect();
            serde_json::json!([q, parsed])
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({"dates": dates, "queries": queries})
    );
}
