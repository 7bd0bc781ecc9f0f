use super::*;

fn lines() -> Vec<(u32, String)> {
    vec![
        (1, "5 kg basmati rice".to_owned()),
        (2, "2 darjan anda".to_owned()),
    ]
}

/// A chat-completions response whose message content is `content`.
fn response(content: &str) -> Vec<u8> {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop",
        }],
    })
    .to_string()
    .into_bytes()
}

fn answer_with(lines: Value) -> Vec<u8> {
    response(&json!({ "language": "hi-Latn", "lines": lines }).to_string())
}

fn good_lines() -> Value {
    json!([
        { "line_no": 2, "sku": "EGG-12", "quantity": 2, "unit": "dozen", "confidence": 0.8 },
        { "line_no": 1, "sku": "RICE-BAS-5", "quantity": 5.0, "unit": "kg", "confidence": 1 },
    ])
}

fn rejected(body: &[u8]) -> String {
    parse_answer(body, &lines()).expect_err("answer should be rejected")
}

#[test]
fn accepts_a_valid_answer_and_returns_lines_in_input_order() {
    let answer = parse_answer(&answer_with(good_lines()), &lines()).unwrap();
    assert_eq!(answer.language, "hi-Latn");
    assert_eq!(
        answer.lines,
        vec![
            AiLine {
                line_no: 1,
                sku: Some("RICE-BAS-5".into()),
                quantity: 5.0,
                unit: "kg".into(),
                confidence: 1.0,
            },
            AiLine {
                line_no: 2,
                sku: Some("EGG-12".into()),
                quantity: 2.0,
                unit: "dozen".into(),
                confidence: 0.8,
            },
        ]
    );
}

#[test]
fn null_or_empty_sku_means_no_match() {
    let body = answer_with(json!([
        { "line_no": 1, "sku": null, "quantity": 5, "unit": "kg", "confidence": 0.1 },
        { "line_no": 2, "sku": " ", "quantity": 2, "unit": "dozen", "confidence": 0.1 },
    ]));
    let answer = parse_answer(&body, &lines()).unwrap();
    assert!(answer.lines.iter().all(|line| line.sku.is_none()));
}

#[test]
fn accepts_a_fenced_answer() {
    let content = format!(
        "```json\n{}\n```",
        json!({ "language": "en", "lines": good_lines() })
    );
    assert_eq!(
        parse_answer(&response(&content), &lines())
            .unwrap()
            .language,
        "en"
    );
    let bare_fence = format!(
        "```\n{}```",
        json!({ "language": "en", "lines": good_lines() })
    );
    assert!(parse_answer(&response(&bare_fence), &lines()).is_ok());
}

#[test]
fn rejects_a_body_that_is_not_a_chat_completion() {
    assert!(rejected(b"<html>502</html>").contains("not JSON"));
    assert!(rejected(b"{}").contains("choices"));
    assert!(rejected(br#"{"choices": []}"#).contains("empty"));
    let no_content = br#"{"choices": [{"message": {"content": null}}]}"#;
    assert!(rejected(no_content).contains("content is not a string"));
    let refusal = br#"{"choices": [{"message": {"content": null, "refusal": "no"}}]}"#;
    assert!(rejected(refusal).contains("refused"));
}

#[test]
fn rejects_content_that_is_not_the_asked_json() {
    assert!(rejected(&response("Sure! Rice is RICE-BAS-5.")).contains("content is not JSON"));
    assert!(rejected(&response("[1, 2]")).contains("not a JSON object"));
    let cut = br#"{"choices": [{"message": {"content": "{\"lang"}, "finish_reason": "length"}]}"#;
    assert!(rejected(cut).contains("cut off"));
}

#[test]
fn rejects_a_bad_language() {
    for language in [
        json!(""),
        json!(null),
        json!("english (india) as spoken"),
        json!(7),
    ] {
        let body = response(&json!({ "language": language, "lines": good_lines() }).to_string());
        assert!(rejected(&body).contains("language"), "{language}");
    }
}

#[test]
fn rejects_missing_extra_and_duplicate_lines() {
    let one = answer_with(json!([
        { "line_no": 1, "sku": null, "quantity": 1, "unit": "kg", "confidence": 0.5 },
    ]));
    assert_eq!(rejected(&one), "no answer for line_no 2");

    let mut extra = good_lines();
    extra
        .as_array_mut()
        .unwrap()
        .push(json!({ "line_no": 3, "sku": null, "quantity": 1, "unit": "kg", "confidence": 0.5 }));
    assert_eq!(rejected(&answer_with(extra)), "line_no 3 was not asked for");

    let mut twice = good_lines();
    twice
        .as_array_mut()
        .unwrap()
        .push(json!({ "line_no": 1, "sku": null, "quantity": 1, "unit": "kg", "confidence": 0.5 }));
    assert_eq!(
        rejected(&answer_with(twice)),
        "line_no 1 is answered more than once"
    );

    assert!(rejected(&response(r#"{"language": "en"}"#)).contains("\"lines\""));
}

#[test]
fn rejects_bad_line_fields() {
    let cases = [
        ("line_no", json!("1"), "line_no is not a line number"),
        ("line_no", json!(-1), "line_no is not a line number"),
        ("sku", json!(42), "sku is not a string or null"),
        (
            "quantity",
            json!(0),
            "quantity is not a number greater than 0",
        ),
        (
            "quantity",
            json!(-2),
            "quantity is not a number greater than 0",
        ),
        (
            "quantity",
            json!("5"),
            "quantity is not a number greater than 0",
        ),
        ("unit", json!(""), "unit is not a non-empty string"),
        ("unit", Value::Null, "unit is not a non-empty string"),
        (
            "confidence",
            json!(1.5),
            "confidence is not a number from 0 to 1",
        ),
        (
            "confidence",
            json!(-0.1),
            "confidence is not a number from 0 to 1",
        ),
    ];
    for (field, value, expected) in cases {
        let mut lines = good_lines();
        lines[0][field] = value.clone();
        let msg = rejected(&answer_with(lines));
        assert!(msg.contains(expected), "{field}={value}: {msg}");
        assert!(msg.starts_with("lines[0]: "), "{msg}");
    }
}

#[test]
fn request_asks_for_a_json_object_at_temperature_zero() {
    let body = request_body("m-1", &lines(), "RICE-BAS-5 | Basmati rice | chawal | kg\n");
    assert_eq!(body["model"], "m-1");
    assert_eq!(body["temperature"], 0);
    assert_eq!(body["response_format"], json!({ "type": "json_object" }));
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("RICE-BAS-5 | Basmati rice | chawal | kg\n</catalogue>"));
    let user: Value =
        serde_json::from_str(body["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        user["lines"][1],
        json!({ "line_no": 2, "text": "2 darjan anda" })
    );
}

#[test]
fn excerpts_are_short_and_on_one_line() {
    let long = "é\n".repeat(500);
    let cut = excerpt(&long);
    assert_eq!(cut.chars().count(), EXCERPT_CHARS);
    assert!(!cut.contains('\n'));
    assert_eq!(excerpt("short"), "short");
}

#[test]
fn new_rejects_a_base_url_that_is_not_http() {
    let cfg = ProviderConfig {
        name: "primary".into(),
        base_url: "api.openai.com/v1".into(),
        model: "m".into(),
        api_key: None,
        timeout: std::time::Duration::from_secs(1),
    };
    let err = OpenAiProvider::new(cfg).unwrap_err();
    assert_eq!(err.kind(), "transport");
    assert!(err.to_string().contains("base_url"), "{err}");
}
