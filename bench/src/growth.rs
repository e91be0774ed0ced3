//! How cost grows with work: connections opened at once (portnet-tokio vs raw
//! tokio), and MQTT topic matching against many subscriptions (portnet-mqtt's
//! `TopicFilter::matches` vs rumqttc's `matches`); and the plot of both curves.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::io;
use std::path::Path;
use std::time::Instant;

use portnet::{ReadExt, TcpConnect, WriteExt};
use portnet_mqtt::codec::TopicFilter;
use portnet_tokio::Tokio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Row, median};

pub(crate) const CONNECTIONS: [usize; 4] = [1, 10, 100, 1000];
pub(crate) const SUBSCRIPTIONS: [usize; 5] = [1, 10, 100, 1000, 10_000];

/// One measured point of a curve: work, portnet's cost, the peer's cost.
pub(crate) type Point = (usize, f64, f64);

/// A raw tokio echo server for `n` connections of 64 bytes each (the same
/// server for both clients); returns its address.
async fn echo_server(
    n: usize,
) -> io::Result<(SocketAddr, tokio::task::JoinHandle<io::Result<()>>)> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        for _ in 0..n {
            let (mut conn, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                if conn.read_exact(&mut buf).await.is_ok() {
                    let _ = conn.write_all(&buf).await;
                }
            });
        }
        Ok(())
    });
    Ok((addr, task))
}

/// `n` clients at once through portnet-tokio: connect, 64 bytes there and back,
/// close. Seconds per connection.
async fn clients_portnet(n: usize) -> io::Result<f64> {
    let (addr, server) = echo_server(n).await?;
    let stack = Tokio::new();
    let start = Instant::now();
    let clients = (0..n).map(|_| async move {
        let mut conn = stack.connect(addr).await?;
        let mut buf = [7u8; 64];
        conn.write_all(&buf).await.map_err(io::Error::other)?;
        conn.read_exact(&mut buf).await.map_err(io::Error::other)?;
        conn.close().await
    });
    for r in futures_util::future::join_all(clients).await {
        r?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    server.await.map_err(io::Error::other)??;
    Ok(elapsed / n as f64)
}

/// The same with tokio's `TcpStream`.
async fn clients_tokio(n: usize) -> io::Result<f64> {
    let (addr, server) = echo_server(n).await?;
    let start = Instant::now();
    let clients = (0..n).map(|_| async move {
        let mut conn = tokio::net::TcpStream::connect(addr).await?;
        let mut buf = [7u8; 64];
        conn.write_all(&buf).await?;
        conn.read_exact(&mut buf).await?;
        conn.shutdown().await
    });
    for r in futures_util::future::join_all(clients).await {
        r?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    server.await.map_err(io::Error::other)??;
    Ok(elapsed / n as f64)
}

/// `n` subscriptions of a device fleet (`fleet/<i>/+/temp`, every tenth
/// `fleet/<i>/#`); the topic matches exactly one of them.
fn filters(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i % 10 == 9 {
                format!("fleet/{i}/#")
            } else {
                format!("fleet/{i}/+/temp")
            }
        })
        .collect()
}

/// Nanoseconds to find every subscription a topic matches, over `n` filters,
/// each kept as `prepare` makes it (once, as a subscription table would).
fn match_cost<'s, F>(
    subscriptions: &'s [String],
    prepare: impl Fn(&'s str) -> F,
    matches: impl Fn(&F, &str) -> bool,
) -> f64 {
    let n = subscriptions.len();
    let filters: Vec<F> = subscriptions.iter().map(|f| prepare(f)).collect();
    let topic = format!("fleet/{}/room/temp", n / 2);
    // Enough rounds for about a million filter checks.
    let rounds = (1_000_000 / n).max(10);
    let start = Instant::now();
    let mut hits = 0usize;
    for _ in 0..rounds {
        for f in &filters {
            if matches(core::hint::black_box(f), core::hint::black_box(&topic)) {
                hits += 1;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert!(hits >= rounds, "the topic matches its own subscription");
    elapsed * 1e9 / rounds as f64
}

pub(crate) struct Curves {
    pub(crate) connections: Vec<Point>,
    pub(crate) matching: Vec<Point>,
}

pub(crate) fn run(repeats: usize, max_connections: usize) -> io::Result<(Vec<Row>, Curves)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    let mut curves = Curves {
        connections: Vec::new(),
        matching: Vec::new(),
    };
    for n in CONNECTIONS.into_iter().filter(|&n| n <= max_connections) {
        let (mut ours, mut peer) = (Vec::new(), Vec::new());
        // ABBA order: whichever side runs second meets the first one's sockets
        // still closing (TIME-WAIT, the server's handlers), so the sides take
        // turns at going first.
        for r in 0..repeats.max(2) {
            if r % 2 == 0 {
                ours.push(runtime.block_on(clients_portnet(n))? * 1e6);
                peer.push(runtime.block_on(clients_tokio(n))? * 1e6);
            } else {
                peer.push(runtime.block_on(clients_tokio(n))? * 1e6);
                ours.push(runtime.block_on(clients_portnet(n))? * 1e6);
            }
        }
        let (o, p) = (median(ours), median(peer));
        curves.connections.push((n, o, p));
        rows.push(Row {
            name: [
                "growth: cost per connection, 1 at once: portnet-tokio vs tokio",
                "growth: cost per connection, 10 at once: portnet-tokio vs tokio",
                "growth: cost per connection, 100 at once: portnet-tokio vs tokio",
                "growth: cost per connection, 1000 at once: portnet-tokio vs tokio",
            ][CONNECTIONS.iter().position(|&c| c == n).unwrap_or(0)],
            ours: o,
            peer: p,
            unit: "us/connection",
            ratio: p / o,
        });
    }
    for (i, n) in SUBSCRIPTIONS.into_iter().enumerate() {
        let (mut ours, mut peer) = (Vec::new(), Vec::new());
        // portnet-mqtt keeps each filter checked (`TopicFilter`); rumqttc's
        // `matches` takes the strings as they are.
        let subscriptions = filters(n);
        let ours_cost = || {
            match_cost(
                &subscriptions,
                |f| TopicFilter::new(f).expect("the fleet's filters are valid"),
                |filter, topic| filter.matches(topic),
            )
        };
        let peer_cost = || {
            match_cost(
                &subscriptions,
                |f| f,
                |filter, topic| rumqttc::matches(topic, filter),
            )
        };
        for r in 0..repeats.max(2) {
            // Sides take turns at going first (ABBA).
            if r % 2 == 0 {
                ours.push(ours_cost());
                peer.push(peer_cost());
            } else {
                peer.push(peer_cost());
                ours.push(ours_cost());
            }
        }
        let (o, p) = (median(ours), median(peer));
        curves.matching.push((n, o, p));
        rows.push(Row {
            name: [
                "growth: topic matching, 1 subscription: portnet-mqtt vs rumqttc",
                "growth: topic matching, 10 subscriptions: portnet-mqtt vs rumqttc",
                "growth: topic matching, 100 subscriptions: portnet-mqtt vs rumqttc",
                "growth: topic matching, 1000 subscriptions: portnet-mqtt vs rumqttc",
                "growth: topic matching, 10000 subscriptions: portnet-mqtt vs rumqttc",
            ][i],
            ours: o,
            peer: p,
            unit: "ns/message",
            ratio: p / o,
        });
    }
    Ok((rows, curves))
}

/// Draws one curve pair (log-log) into an SVG file.
fn plot(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[Point],
    peer: &str,
) -> io::Result<()> {
    use plotters::prelude::*;
    let draw = || -> Result<(), Box<dyn core::error::Error>> {
        let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let x_max = points.iter().map(|p| p.0).max().unwrap_or(1) as f64;
        let y_min = points
            .iter()
            .map(|p| p.1.min(p.2))
            .fold(f64::INFINITY, f64::min);
        let y_max = points.iter().map(|p| p.1.max(p.2)).fold(0.0, f64::max);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (1.0..x_max * 1.2).log_scale(),
                (y_min * 0.7..y_max * 1.4).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()?;
        let ours: Vec<(f64, f64)> = points.iter().map(|p| (p.0 as f64, p.1)).collect();
        let theirs: Vec<(f64, f64)> = points.iter().map(|p| (p.0 as f64, p.2)).collect();
        chart
            .draw_series(LineSeries::new(ours.clone(), BLUE.stroke_width(2)))?
            .label("portnet")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
        chart.draw_series(ours.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))?;
        chart
            .draw_series(LineSeries::new(theirs.clone(), RED.stroke_width(2)))?
            .label(peer)
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
        chart.draw_series(theirs.iter().map(|&p| Circle::new(p, 3, RED.filled())))?;
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| io::Error::other(e.to_string()))
}

/// Writes `connections.svg` and `topic-matching.svg` into `dir`.
pub(crate) fn plots(dir: &Path, curves: &Curves) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    plot(
        &dir.join("connections.svg"),
        "Cost per connection vs connections at once",
        "connections at once",
        "us per connection",
        &curves.connections,
        "tokio TcpStream",
    )?;
    plot(
        &dir.join("topic-matching.svg"),
        "Topic matching cost vs subscriptions",
        "subscriptions",
        "ns per message",
        &curves.matching,
        "rumqttc::matches",
    )
}
