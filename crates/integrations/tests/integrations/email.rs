use std::time::Duration;

use posada_integrations::{Email, EmailError, Mailer, MailerConfig, Sender, SmtpSecurity};
use posada_testkit::SmtpSink;

fn config(sink: &SmtpSink) -> MailerConfig {
    MailerConfig {
        host: sink.host(),
        port: sink.port(),
        security: SmtpSecurity::Plain,
        username: None,
        password: None,
        from: Sender {
            name: Some("Cabañas del Lago".into()),
            address: "reservas@cabanas.example".into(),
        },
        timeout: Duration::from_secs(5),
    }
}

fn confirmation() -> Email {
    Email {
        to: "Lucía Pérez <lucia@example.com>".into(),
        subject: "¡Reserva confirmada! Cabaña del Lago, 20–23 de noviembre".into(),
        text: "Hola Lucía:\n\nRecibimos tu seña de $ 45.000,50. ¡Te esperamos!\n\nCódigo: PSD-7K2M\n.\nUna línea con punto.".into(),
        html: Some("<p>Hola Lucía:</p><p>Recibimos tu seña de <b>$ 45.000,50</b>. ¡Te esperamos!</p>".into()),
    }
}

#[tokio::test]
async fn delivers_multipart_alternative_with_spanish_utf8() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&config(&sink)).unwrap();
    let message_id = mailer.send(&confirmation()).await.unwrap();
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@cabanas.example>"),
        "{message_id}"
    );

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(mail.from, "reservas@cabanas.example");
    assert_eq!(mail.to, vec!["lucia@example.com"]);
    assert_eq!(mail.auth_user, None);
    let parsed = mail.parsed().unwrap();
    assert_eq!(
        parsed.subject.as_deref(),
        Some("¡Reserva confirmada! Cabaña del Lago, 20–23 de noviembre")
    );
    assert_eq!(
        parsed.content_type.as_deref(),
        Some("multipart/alternative")
    );
    assert_eq!(parsed.from.as_deref(), Some("reservas@cabanas.example"));
    assert_eq!(parsed.to, vec!["lucia@example.com"]);
    assert_eq!(
        Some(format!("<{}>", parsed.message_id.unwrap())),
        Some(message_id)
    );
    let text = parsed.text.unwrap().replace("\r\n", "\n");
    assert_eq!(
        text,
        confirmation().text,
        "the lone dot line survives dot-stuffing"
    );
    assert_eq!(
        parsed.html.unwrap().trim_end(),
        "<p>Hola Lucía:</p><p>Recibimos tu seña de <b>$ 45.000,50</b>. ¡Te esperamos!</p>"
    );
}

#[tokio::test]
async fn text_only_messages_are_single_part() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&config(&sink)).unwrap();
    let email = Email {
        html: None,
        ..confirmation()
    };
    mailer.send(&email).await.unwrap();
    let parsed = sink.messages()[0].parsed().unwrap();
    assert_eq!(parsed.content_type.as_deref(), Some("text/plain"));
    assert!(parsed.text.unwrap().contains("seña"));
}

#[tokio::test]
async fn authenticates_when_credentials_are_configured() {
    let sink = SmtpSink::start().await;
    let mut config = config(&sink);
    config.username = Some("reservas".into());
    config.password = Some("hunter2-secret".into());
    assert!(!format!("{config:?}").contains("hunter2-secret"));
    let mailer = Mailer::new(&config).unwrap();
    mailer.send(&confirmation()).await.unwrap();
    assert_eq!(sink.messages()[0].auth_user.as_deref(), Some("reservas"));
}

#[tokio::test]
async fn temporary_refusals_are_transient_and_permanent_ones_are_not() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&config(&sink)).unwrap();
    sink.fail_next_mail_from(1, 451);
    let err = mailer.send(&confirmation()).await.unwrap_err();
    assert!(matches!(err, EmailError::Transient(_)), "{err:?}");
    assert!(err.is_retryable());
    mailer.send(&confirmation()).await.unwrap();
    assert_eq!(sink.messages().len(), 1);

    sink.fail_next_mail_from(1, 550);
    let err = mailer.send(&confirmation()).await.unwrap_err();
    assert!(matches!(err, EmailError::Permanent(_)), "{err:?}");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_connection_dropped_mid_data_is_transient_and_nothing_is_recorded() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&config(&sink)).unwrap();
    sink.close_mid_data_next(1);
    let err = mailer.send(&confirmation()).await.unwrap_err();
    assert!(matches!(err, EmailError::Transient(_)), "{err:?}");
    assert!(sink.messages().is_empty());
    mailer.send(&confirmation()).await.unwrap();
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn unreachable_server_is_transient_and_bad_addresses_are_permanent() {
    let sink = SmtpSink::start().await;
    let mut config = config(&sink);
    config.port = posada_testkit::unreachable_addr().port();
    config.timeout = Duration::from_secs(2);
    let mailer = Mailer::new(&config).unwrap();
    let err = mailer.send(&confirmation()).await.unwrap_err();
    assert!(matches!(err, EmailError::Transient(_)), "{err:?}");

    let bad = Email {
        to: "not an address".into(),
        ..confirmation()
    };
    assert!(matches!(
        mailer.send(&bad).await.unwrap_err(),
        EmailError::Permanent(_)
    ));
    config.from.address = "nope".into();
    assert!(matches!(
        Mailer::new(&config).unwrap_err(),
        EmailError::Permanent(_)
    ));
}

#[tokio::test]
async fn tls_and_starttls_transports_build_with_the_ring_provider() {
    for security in [SmtpSecurity::StartTls, SmtpSecurity::Tls] {
        let config = MailerConfig {
            host: "smtp.example.com".into(),
            port: 587,
            security,
            username: Some("u".into()),
            password: Some("p".into()),
            from: Sender {
                name: None,
                address: "a@example.com".into(),
            },
            timeout: Duration::from_secs(1),
        };
        assert!(Mailer::new(&config).is_ok(), "{security:?}");
    }
}
