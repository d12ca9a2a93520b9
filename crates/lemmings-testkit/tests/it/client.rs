//! A minimal HTTP/1.1 client over loopback TCP (hyper's client connection), so the fake server
//! is tested on the wire, byte for byte, errors included.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// One client connection (kept alive across requests).
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

/// What the client saw of one response.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    /// The body bytes received, as text.
    pub(crate) body: String,
    /// Why the body did not end cleanly, if it did not.
    pub(crate) error: Option<String>,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("the body is not JSON")
    }

    /// The body, asserting it ended cleanly.
    pub(crate) fn clean_body(&self) -> &str {
        assert_eq!(self.error, None, "the body did not end cleanly");
        &self.body
    }
}

/// Opens a connection to `url` (`http://host:port`).
pub(crate) async fn connect(url: &str) -> std::io::Result<Conn> {
    let host = url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let stream = TcpStream::connect(&host).await?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    Ok(Conn { sender, host })
}

impl Conn {
    /// Sends a request; `Err` when no response head arrived.
    pub(crate) async fn send(&mut self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, String> {
        let body = body.map(|body| ("application/json", body.to_string()));
        self.send_text(method, path, body).await
    }

    /// Sends `text` as a `text/plain` body; `Err` when no response head arrived.
    pub(crate) async fn send_raw(&mut self, method: &str, path: &str, text: &str) -> Result<Answer, String> {
        self.send_text(method, path, Some(("text/plain", text.to_owned())))
            .await
    }

    async fn send_text(&mut self, method: &str, path: &str, body: Option<(&str, String)>) -> Result<Answer, String> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        let mut bytes = Bytes::new();
        if let Some((content_type, text)) = body {
            request = request.header("content-type", content_type);
            bytes = Bytes::from(text);
        }
        let request = request.body(Full::new(bytes)).expect("a valid request");
        self.sender.ready().await.map_err(|error| error.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().expect("an ASCII header").to_owned()))
            .collect();
        let mut body = response.into_body();
        let mut received = Vec::new();
        let mut error = None;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => received.extend_from_slice(frame.data_ref().map_or(&[][..], |data| &data[..])),
                Err(cause) => {
                    error = Some(cause.to_string());
                    break;
                }
            }
        }
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8(received).expect("a UTF-8 body"),
            error,
        })
    }

    /// POSTs JSON, expecting a response head.
    pub(crate) async fn post(&mut self, path: &str, body: &Value) -> Answer {
        self.send("POST", path, Some(body)).await.expect("no response")
    }
}

/// POSTs JSON on a new connection to `url`, expecting a response head.
pub(crate) async fn post(url: &str, path: &str, body: &Value) -> Answer {
    connect(url).await.expect("cannot connect").post(path, body).await
}

/// GETs on a new connection to `url`, expecting a response head.
pub(crate) async fn get(url: &str, path: &str) -> Answer {
    connect(url)
        .await
        .expect("cannot connect")
        .send("GET", path, None)
        .await
        .expect("no response")
}

/// POSTs JSON on a new connection, returning the error when no response head arrived.
pub(crate) async fn try_post(url: &str, path: &str, body: &Value) -> Result<Answer, String> {
    connect(url)
        .await
        .map_err(|error| error.to_string())?
        .send("POST", path, Some(body))
        .await
}
