use std::time::Duration;

use posada_integrations::{FeedFetcher, FetchConfig, FetchErrorKind, FetchOutcome};
use posada_testkit::FakeChannel;

const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\nCALSCALE:GREGORIAN\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261120\r\nDTEND;VALUE=DATE:20261123\r\nSUMMARY:Reserved\r\nUID:1418fb94e984-ab12cd34ef56ab12cd34ef56ab12cd34@airbnb.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn fetcher() -> FeedFetcher {
    FeedFetcher::new(FetchConfig::default()).unwrap()
}

fn fetched(outcome: FetchOutcome) -> (Vec<u8>, Option<String>, Option<String>, u16) {
    match outcome {
        FetchOutcome::Fetched {
            body,
            etag,
            last_modified,
            status,
        } => (body, etag, last_modified, status),
        FetchOutcome::NotModified => panic!("expected a body, got 304"),
    }
}

#[tokio::test]
async fn fetches_a_feed_with_validators_and_a_browser_like_user_agent() {
    let channel = FakeChannel::start().await;
    channel.set_feed("/airbnb/1.ics", FEED);
    let (body, etag, last_modified, status) = fetched(
        fetcher()
            .fetch(&channel.url("/airbnb/1.ics"), None, None)
            .await
            .unwrap(),
    );
    assert_eq!(body, FEED.as_bytes());
    assert_eq!(status, 200);
    assert!(etag.unwrap().starts_with('"'));
    assert!(last_modified.unwrap().ends_with("GMT"));
    let request = &channel.requests()[0].request;
    let user_agent = request.header("user-agent").unwrap();
    assert!(
        user_agent.starts_with("Mozilla/5.0") && user_agent.contains("posada/"),
        "{user_agent}"
    );
    assert!(request.header("accept").unwrap().contains("text/calendar"));
}

#[tokio::test]
async fn the_user_agent_is_configurable() {
    let channel = FakeChannel::start().await;
    channel.set_feed("/f.ics", FEED);
    let fetcher = FeedFetcher::new(FetchConfig {
        user_agent: "posada-test/1".into(),
        ..FetchConfig::default()
    })
    .unwrap();
    fetcher
        .fetch(&channel.url("/f.ics"), None, None)
        .await
        .unwrap();
    assert_eq!(
        channel.requests()[0].request.header("user-agent"),
        Some("posada-test/1")
    );
}

#[tokio::test]
async fn conditional_get_answers_not_modified_until_the_feed_changes() {
    let channel = FakeChannel::start().await;
    channel.set_feed("/booking/7.ics", FEED);
    let fetcher = fetcher();
    let url = channel.url("/booking/7.ics");
    let (_, etag, last_modified, _) = fetched(fetcher.fetch(&url, None, None).await.unwrap());
    let etag = etag.unwrap();
    let last_modified = last_modified.unwrap();

    let again = fetcher
        .fetch(&url, Some(&etag), Some(&last_modified))
        .await
        .unwrap();
    assert_eq!(again, FetchOutcome::NotModified);
    let seen = &channel.requests()[1].request;
    assert_eq!(seen.header("if-none-match"), Some(etag.as_str()));
    assert_eq!(
        seen.header("if-modified-since"),
        Some(last_modified.as_str())
    );
    // Last-Modified alone works too.
    assert_eq!(
        fetcher
            .fetch(&url, None, Some(&last_modified))
            .await
            .unwrap(),
        FetchOutcome::NotModified
    );

    channel.set_feed("/booking/7.ics", FEED.replace("20261123", "20261124"));
    let (body, new_etag, _, _) = fetched(fetcher.fetch(&url, Some(&etag), None).await.unwrap());
    assert!(String::from_utf8(body).unwrap().contains("20261124"));
    assert_ne!(new_etag.unwrap(), etag);
}

#[tokio::test]
async fn follows_up_to_five_redirects_and_refuses_the_sixth() {
    let channel = FakeChannel::start().await;
    channel.set_feed("/final.ics", FEED);
    let fetcher = fetcher();
    let five = channel.redirect_chain("/five", 5, "/final.ics");
    let (body, ..) = fetched(fetcher.fetch(&five, None, None).await.unwrap());
    assert_eq!(body, FEED.as_bytes());
    assert_eq!(channel.requests_to("/final.ics").len(), 1);

    let six = channel.redirect_chain("/six", 6, "/final.ics");
    let err = fetcher.fetch(&six, None, None).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Redirects);
    assert_eq!(err.kind_label(), "redirect");
    assert_eq!(
        channel.requests_to("/final.ics").len(),
        1,
        "the target was never reached"
    );
}

#[tokio::test]
async fn a_slow_feed_times_out() {
    let channel = FakeChannel::start().await;
    channel.set_slow("/slow.ics", Duration::from_secs(5), FEED);
    let fetcher = FeedFetcher::new(FetchConfig {
        timeout: Duration::from_millis(300),
        ..FetchConfig::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = fetcher
        .fetch(&channel.url("/slow.ics"), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Timeout);
    assert_eq!(err.kind_label(), "timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_huge_feed_is_cut_off_at_the_limit() {
    let channel = FakeChannel::start().await;
    channel.set_huge("/huge-declared.ics", 6 * 1024 * 1024, true);
    channel.set_huge("/huge-streamed.ics", 6 * 1024 * 1024, false);
    channel.set_huge("/just-fits.ics", 5 * 1024 * 1024, false);
    let fetcher = fetcher();
    for path in ["/huge-declared.ics", "/huge-streamed.ics"] {
        let err = fetcher
            .fetch(&channel.url(path), None, None)
            .await
            .unwrap_err();
        assert_eq!(err.kind, FetchErrorKind::TooLarge, "{path}: {err}");
        assert_eq!(err.kind_label(), "too_large");
    }
    let (body, ..) = fetched(
        fetcher
            .fetch(&channel.url("/just-fits.ics"), None, None)
            .await
            .unwrap(),
    );
    assert_eq!(body.len(), 5 * 1024 * 1024);
}

#[tokio::test]
async fn gzip_is_requested_and_decoded_and_the_limit_applies_after_decoding() {
    let channel = FakeChannel::start().await;
    channel.set_feed("/gz.ics", FEED);
    let (body, ..) = fetched(
        fetcher()
            .fetch(&channel.url("/gz.ics"), None, None)
            .await
            .unwrap(),
    );
    assert_eq!(body, FEED.as_bytes());
    let served = &channel.requests()[0];
    assert!(served.gzipped);
    assert!(
        served
            .request
            .header("accept-encoding")
            .unwrap()
            .contains("gzip")
    );

    // 2 MiB of repetitive text gzips to a few KiB: the decoded size is what counts.
    let big = FEED.repeat(2 * 1024 * 1024 / FEED.len() + 1);
    channel.set_feed("/bomb.ics", big);
    let small_limit = FeedFetcher::new(FetchConfig {
        max_bytes: 1024 * 1024,
        ..FetchConfig::default()
    })
    .unwrap();
    let err = small_limit
        .fetch(&channel.url("/bomb.ics"), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::TooLarge);

    let no_gzip = FeedFetcher::new(FetchConfig {
        gzip: false,
        ..FetchConfig::default()
    })
    .unwrap();
    let (body, ..) = fetched(
        no_gzip
            .fetch(&channel.url("/gz.ics"), None, None)
            .await
            .unwrap(),
    );
    assert_eq!(body, FEED.as_bytes());
    assert!(!channel.requests().last().unwrap().gzipped);
}

#[tokio::test]
async fn error_statuses_and_unreachable_hosts_are_classified() {
    let channel = FakeChannel::start().await;
    channel.set_status("/forbidden.ics", 403);
    channel.set_status("/broken.ics", 503);
    let fetcher = fetcher();
    for (path, code) in [
        ("/forbidden.ics", 403),
        ("/broken.ics", 503),
        ("/missing.ics", 404),
    ] {
        let err = fetcher
            .fetch(&channel.url(path), None, None)
            .await
            .unwrap_err();
        assert_eq!(err.kind, FetchErrorKind::HttpStatus(code));
        assert_eq!(err.kind_label(), "http_status");
        assert!(err.message.contains(&code.to_string()));
    }
    let url = format!("{}/gone.ics", posada_testkit::unreachable_url());
    let err = fetcher.fetch(&url, None, None).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Connect, "{err}");
    assert_eq!(err.kind_label(), "connect");
    let err = fetcher.fetch("not a url", None, None).await.unwrap_err();
    assert_eq!(err.kind_label(), "other");
}
