//! A pool of inference servers: one gRPC channel each, their health, a server per call (the
//! healthy one with the fewest calls in flight), and failover.
//!
//! A call's inputs are complete in the request (the denoising state lives in the client), so
//! a call that fails because its server died, timed out or dropped the connection is sent
//! again to the next server: the generation goes on with the same numbers. Errors that another
//! server would repeat (a refused token, a rejected request) end the call at once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

use crate::remote::RemoteError;
use crate::remote::proto;
use crate::remote::proto::grpc_inference_service_client::GrpcInferenceServiceClient;

/// How long connecting to a server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A server that failed is tried again (after a readiness probe) once this has passed, or
/// earlier when no other server is left.
const RETRY_DOWN_AFTER: Duration = Duration::from_secs(30);

/// The largest message either way: a 1024² image is 12 MiB of float32 (2048² 48 MiB).
const MESSAGE_LIMIT: usize = 1 << 30;

/// How often a waiting call looks at the cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(10);

type Client = GrpcInferenceServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer …` to every call when the studio uses a token: as the standard
/// header (for a gateway or proxy in front of the servers) and as the header Triton's own
/// restricted protocols read (`--grpc-restricted-protocol=…:authorization=Bearer …` makes
/// Triton expect `triton-grpc-protocol-authorization`).
#[derive(Clone)]
struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(value) = &self.0 {
            let metadata = request.metadata_mut();
            metadata.insert("authorization", value.clone());
            metadata.insert("triton-grpc-protocol-authorization", value.clone());
        }
        Ok(request)
    }
}

/// What is known of a server.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerState {
    /// Not asked yet.
    Unknown,
    /// It answered its last call or probe.
    Ready,
    /// It did not: why, in words.
    Down(String),
}

/// A server as the model manager and the status bar show it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerStatus {
    /// Its endpoint.
    pub url: String,
    /// Its state.
    pub state: ServerState,
    /// Calls in flight to it from this pool.
    pub in_flight: usize,
    /// Calls it completed for this pool.
    pub completed: u64,
}

struct Server {
    url: String,
    client: Client,
    in_flight: AtomicUsize,
    completed: AtomicU64,
    health: Mutex<(ServerState, Instant)>,
}

impl Server {
    fn state(&self) -> (ServerState, Instant) {
        self.health
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set_state(&self, state: ServerState) {
        *self
            .health
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (state, Instant::now());
    }

    fn is_down(&self) -> bool {
        matches!(self.state().0, ServerState::Down(_))
    }
}

/// How a failed call ends.
enum Failure {
    /// Another server may succeed.
    Retry(String),
    /// The token was refused.
    Token(String),
    /// The model is not loaded there (another server may have it).
    ModelMissing(String),
    /// Another server would answer the same.
    Final(String),
}

/// The servers of one remote model.
pub struct Pool {
    runtime: tokio::runtime::Runtime,
    servers: Vec<Server>,
    timeout: Duration,
    last_used: Mutex<Option<usize>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field(
                "servers",
                &self.servers.iter().map(|s| &s.url).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool of `urls` (`http://host:port`, or `https://` for TLS), sending `token` as a
    /// bearer token when given and trusting `ca_pem` besides the system's roots. Nothing is
    /// connected yet.
    pub fn new(
        urls: &[String],
        token: Option<&str>,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Self, RemoteError> {
        let config_error = |reason: String| RemoteError::Config {
            reason,
            path: "remote.json".to_owned(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pentimento-remote")
            .enable_all()
            .build()
            .map_err(|err| config_error(format!("its network threads could not start ({err})")))?;
        let bearer = match token.filter(|token| !token.is_empty()) {
            None => Bearer(None),
            Some(token) => Bearer(Some(format!("Bearer {token}").parse().map_err(|_| {
                config_error("its token has characters a header cannot carry".to_owned())
            })?)),
        };
        let _entered = runtime.enter();
        let mut servers = Vec::new();
        for url in urls {
            let mut endpoint = Endpoint::from_shared(url.clone())
                .map_err(|err| {
                    config_error(format!("the server address `{url}` is not valid ({err})"))
                })?
                .connect_timeout(CONNECT_TIMEOUT)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_while_idle(true);
            if url.starts_with("https://") {
                let mut tls = ClientTlsConfig::new().with_native_roots();
                if let Some(pem) = ca_pem {
                    tls = tls.ca_certificate(Certificate::from_pem(pem));
                }
                endpoint = endpoint.tls_config(tls).map_err(|err| {
                    config_error(format!("TLS for `{url}` could not be set up ({err})"))
                })?;
            } else if !url.starts_with("http://") {
                return Err(config_error(format!(
                    "the server address `{url}` must start with http:// or https://"
                )));
            }
            let channel = endpoint.connect_lazy();
            let client = GrpcInferenceServiceClient::with_interceptor(channel, bearer.clone())
                .max_decoding_message_size(MESSAGE_LIMIT)
                .max_encoding_message_size(MESSAGE_LIMIT);
            servers.push(Server {
                url: url.clone(),
                client,
                in_flight: AtomicUsize::new(0),
                completed: AtomicU64::new(0),
                health: Mutex::new((ServerState::Unknown, Instant::now())),
            });
        }
        if servers.is_empty() {
            return Err(config_error("it names no servers".to_owned()));
        }
        Ok(Self {
            runtime,
            servers,
            timeout,
            last_used: Mutex::new(None),
        })
    }

    /// Each server's state, as last seen.
    pub fn status(&self) -> Vec<ServerStatus> {
        self.servers
            .iter()
            .map(|server| ServerStatus {
                url: server.url.clone(),
                state: server.state().0,
                in_flight: server.in_flight.load(Ordering::SeqCst),
                completed: server.completed.load(Ordering::SeqCst),
            })
            .collect()
    }

    /// The server that answered the last call.
    pub fn last_used(&self) -> Option<String> {
        let index = *self
            .last_used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        index.map(|index| self.servers[index].url.clone())
    }

    /// Asks every server whether it and each of `models` are ready, and records the answers.
    /// A refused token is an error; any other failure marks the server down.
    pub fn probe_all(&self, models: &[String]) -> Result<Vec<ServerStatus>, RemoteError> {
        for server in &self.servers {
            if let Err(failure) = self.probe(server, models) {
                match failure {
                    Failure::Token(reason) => {
                        return Err(RemoteError::TokenRefused {
                            url: server.url.clone(),
                            reason,
                        });
                    }
                    Failure::Retry(reason)
                    | Failure::ModelMissing(reason)
                    | Failure::Final(reason) => server.set_state(ServerState::Down(reason)),
                }
            }
        }
        Ok(self.status())
    }

    /// `call` on a copy of `server`'s client, cut off after [`PROBE_TIMEOUT`] (the outer `Err`).
    fn within_probe_time<T, F>(
        &self,
        server: &Server,
        call: impl FnOnce(Client) -> F,
    ) -> Result<Result<T, Status>, tokio::time::error::Elapsed>
    where
        F: Future<Output = Result<T, Status>>,
    {
        let future = call(server.client.clone());
        self.runtime
            .block_on(async move { tokio::time::timeout(PROBE_TIMEOUT, future).await })
    }

    /// `call` on each server in turn, each within [`PROBE_TIMEOUT`]; lazily, so that a caller
    /// may stop at the first good answer.
    fn ask_each<'a, T, F>(
        &'a self,
        call: impl Fn(Client) -> F + 'a,
    ) -> impl Iterator<
        Item = (
            &'a Server,
            Result<Result<T, Status>, tokio::time::error::Elapsed>,
        ),
    > + 'a
    where
        F: Future<Output = Result<T, Status>>,
    {
        self.servers
            .iter()
            .map(move |server| (server, self.within_probe_time(server, &call)))
    }

    fn probe(&self, server: &Server, models: &[String]) -> Result<(), Failure> {
        let models = models.to_vec();
        let result = self.within_probe_time(server, |mut client| async move {
            let ready = client
                .server_ready(proto::ServerReadyRequest {})
                .await?
                .into_inner()
                .ready;
            if !ready {
                return Ok(Some("is starting or stopping (not ready)".to_owned()));
            }
            for model in models {
                let ready = client
                    .model_ready(proto::ModelReadyRequest {
                        name: model.clone(),
                        version: String::new(),
                    })
                    .await?
                    .into_inner()
                    .ready;
                if !ready {
                    return Ok(Some(format!("has the model {model} not loaded")));
                }
            }
            Ok::<_, Status>(None)
        });
        match result {
            Err(_) => Err(Failure::Retry(format!(
                "did not answer within {} s",
                PROBE_TIMEOUT.as_secs()
            ))),
            Ok(Err(status)) => Err(classify(&status)),
            Ok(Ok(Some(reason))) => Err(Failure::ModelMissing(reason)),
            Ok(Ok(None)) => {
                server.set_state(ServerState::Ready);
                Ok(())
            }
        }
    }

    /// The metadata of `model` from the first server that has it: its endpoint and answer.
    pub fn model_metadata(
        &self,
        model: &str,
    ) -> Result<(String, proto::ModelMetadataResponse), RemoteError> {
        let mut tried = Vec::new();
        let answers = self.ask_each(|mut client| {
            // No version: the one the server serves.
            let request = proto::ModelMetadataRequest {
                name: model.to_owned(),
                ..Default::default()
            };
            async move { client.model_metadata(request).await }
        });
        for (server, result) in answers {
            let reason = match result {
                Ok(Ok(response)) => {
                    server.set_state(ServerState::Ready);
                    return Ok((server.url.clone(), response.into_inner()));
                }
                Err(_) => format!("did not answer within {} s", PROBE_TIMEOUT.as_secs()),
                Ok(Err(status)) => match classify(&status) {
                    Failure::Token(reason) => {
                        return Err(RemoteError::TokenRefused {
                            url: server.url.clone(),
                            reason,
                        });
                    }
                    Failure::ModelMissing(reason) => {
                        tried.push((
                            server.url.clone(),
                            format!("does not serve {model} ({reason})"),
                        ));
                        continue;
                    }
                    Failure::Retry(reason) | Failure::Final(reason) => {
                        server.set_state(ServerState::Down(reason.clone()));
                        reason
                    }
                },
            };
            tried.push((server.url.clone(), reason));
        }
        match tried
            .iter()
            .find(|(_, reason)| reason.starts_with("does not serve"))
        {
            Some((url, reason)) if tried.len() == 1 => Err(RemoteError::ModelNotLoaded {
                url: url.clone(),
                model: model.to_owned(),
                reason: reason.clone(),
            }),
            _ => Err(RemoteError::NoServerLeft {
                component: "model metadata",
                tried,
            }),
        }
    }

    /// Cumulative statistics of `model` on every server that answers.
    pub fn statistics(&self, model: &str) -> Vec<(String, proto::ModelStatistics)> {
        let answers = self.ask_each(|mut client| {
            let request = proto::ModelStatisticsRequest {
                name: model.to_owned(),
                ..Default::default()
            };
            async move { client.model_statistics(request).await }
        });
        answers
            .filter_map(|(server, result)| Some((server, result.ok()?.ok()?)))
            .flat_map(|(server, response)| {
                let url = &server.url;
                let stats = response.into_inner().model_stats;
                stats.into_iter().map(move |stats| (url.clone(), stats))
            })
            .collect()
    }

    /// Runs one call on the pool: on the healthy server with the fewest calls in flight, and on
    /// the next when that one fails in a way another may not. `None` when `cancelled` says so
    /// (it is asked every few milliseconds while the call runs).
    pub fn infer(
        &self,
        component: &'static str,
        request: &proto::ModelInferRequest,
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<proto::ModelInferResponse>, RemoteError> {
        let mut tried: Vec<(String, String)> = Vec::new();
        let mut excluded = vec![false; self.servers.len()];
        let models = [request.model_name.clone()];
        loop {
            if cancelled() {
                return Ok(None);
            }
            let Some(index) = self.choose(&excluded) else {
                return Err(RemoteError::NoServerLeft { component, tried });
            };
            excluded[index] = true;
            let server = &self.servers[index];
            let probed = if server.is_down() {
                self.probe(server, &models)
            } else {
                Ok(())
            };
            match probed {
                Ok(()) => {}
                Err(Failure::Token(reason)) => {
                    return Err(RemoteError::TokenRefused {
                        url: server.url.clone(),
                        reason,
                    });
                }
                Err(
                    Failure::Retry(reason) | Failure::ModelMissing(reason) | Failure::Final(reason),
                ) => {
                    server.set_state(ServerState::Down(reason.clone()));
                    tried.push((server.url.clone(), reason));
                    continue;
                }
            }
            server.in_flight.fetch_add(1, Ordering::SeqCst);
            let outcome = self.call(server, request.clone(), cancelled);
            server.in_flight.fetch_sub(1, Ordering::SeqCst);
            let status = match outcome {
                Some(Ok(response)) => {
                    server.completed.fetch_add(1, Ordering::SeqCst);
                    server.set_state(ServerState::Ready);
                    *self
                        .last_used
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(index);
                    return Ok(Some(response));
                }
                None => return Ok(None),
                Some(Err(status)) => status,
            };
            match classify(&status) {
                Failure::Token(reason) => {
                    return Err(RemoteError::TokenRefused {
                        url: server.url.clone(),
                        reason,
                    });
                }
                Failure::Final(reason) => {
                    return Err(RemoteError::Rejected {
                        url: server.url.clone(),
                        component,
                        reason,
                    });
                }
                Failure::Retry(reason) | Failure::ModelMissing(reason) => {
                    server.set_state(ServerState::Down(reason.clone()));
                    tried.push((server.url.clone(), reason));
                }
            }
        }
    }

    /// The server for the next call: not yet tried for it, healthy before down (a server that
    /// failed is only tried again after a while, or when it is the last), then the fewest
    /// calls in flight, then the order of `remote.json`.
    fn choose(&self, excluded: &[bool]) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.servers.len())
            .filter(|&index| !excluded[index])
            .collect();
        let usable = |index: &usize| {
            let (state, since) = self.servers[*index].state();
            !matches!(state, ServerState::Down(_)) || since.elapsed() >= RETRY_DOWN_AFTER
        };
        let pick = |indices: &mut dyn Iterator<Item = usize>| {
            indices.min_by_key(|&index| self.servers[index].in_flight.load(Ordering::SeqCst))
        };
        pick(&mut candidates.iter().copied().filter(|index| usable(index)))
            .or_else(|| pick(&mut candidates.iter().copied()))
    }

    /// Sends the call and waits for it, for the pool's timeout, or until cancelled (`None`;
    /// dropping the call cancels it on the server too).
    fn call(
        &self,
        server: &Server,
        request: proto::ModelInferRequest,
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Option<Result<proto::ModelInferResponse, Status>> {
        let mut client = server.client.clone();
        let timeout = self.timeout;
        self.runtime.block_on(async move {
            let mut request = tonic::Request::new(request);
            request.set_timeout(timeout);
            let call = tokio::time::timeout(
                timeout + Duration::from_secs(1),
                client.model_infer(request),
            );
            let cancelled = async {
                while !cancelled() {
                    tokio::time::sleep(CANCEL_POLL).await;
                }
            };
            tokio::select! {
                result = call => Some(match result {
                    Ok(Ok(response)) => Ok(response.into_inner()),
                    Ok(Err(status)) => Err(status),
                    Err(_) => Err(Status::deadline_exceeded(format!(
                        "no answer within {} s",
                        timeout.as_secs_f64()
                    ))),
                }),
                () = cancelled => None,
            }
        })
    }
}

/// What a failed call means for the pool.
fn classify(status: &Status) -> Failure {
    let message = status.message().to_owned();
    let lower = message.to_lowercase();
    let described = |what: &str| {
        if message.is_empty() {
            what.to_owned()
        } else {
            format!("{what}: {message}")
        }
    };
    // Triton answers a call without the header its restricted protocols expect with
    // UNAVAILABLE and a message naming the header.
    if matches!(
        status.code(),
        Code::Unauthenticated | Code::PermissionDenied
    ) || (lower.contains("restricted") && lower.contains("header"))
    {
        return Failure::Token(message);
    }
    if status.code() == Code::NotFound
        || lower.contains("unknown model")
        || lower.contains("is not ready")
        || lower.contains("is not found")
    {
        return Failure::ModelMissing(described("does not have the model loaded"));
    }
    // tonic ends a call past its deadline as CANCELLED "Timeout expired".
    if status.code() == Code::DeadlineExceeded || lower.contains("timeout expired") {
        return Failure::Retry(format!(
            "timed out (no answer within remote.json's timeout_seconds): {message}"
        ));
    }
    match status.code() {
        Code::Unavailable => Failure::Retry(described("is unreachable")),
        Code::Cancelled | Code::Aborted | Code::Unknown | Code::Internal => {
            Failure::Retry(described("failed"))
        }
        Code::ResourceExhausted => Failure::Final(described(
            "ran out of memory or the message is too large; generate a smaller area",
        )),
        _ => Failure::Final(message),
    }
}
