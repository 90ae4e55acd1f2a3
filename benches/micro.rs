//! Micro-benchmarks of ferry's core (criterion): each checksum algorithm's throughput, CRC
//! combination, the planner, a journal append with its fsync, the aws-chunked encoder, and
//! what the manager spends on each transfer it starts (against the in-memory S3, so only the
//! engine's own work counts). Run with `cargo bench --bench micro`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferry_engine::{
    Destination, Download, FileJournalStore, Hasher, JournalStore as _, Manager, ManagerConfig,
    PartRecord, PlanConfig, SourceIdentity, Target, combine, plan,
};
use ferry_s3::ChecksumAlgorithm;
use ferry_s3::chunked::{ChunkItem, ChunkStream, frame};
use futures_util::StreamExt as _;

const MIB: usize = 1 << 20;

fn data(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

const ALGORITHMS: [(&str, Option<ChecksumAlgorithm>); 6] = [
    ("crc64nvme", Some(ChecksumAlgorithm::Crc64Nvme)),
    ("crc32", Some(ChecksumAlgorithm::Crc32)),
    ("crc32c", Some(ChecksumAlgorithm::Crc32c)),
    ("sha1", Some(ChecksumAlgorithm::Sha1)),
    ("sha256", Some(ChecksumAlgorithm::Sha256)),
    ("md5", None),
];

fn checksums(c: &mut Criterion) {
    let buf = data(16 * MIB);
    let mut g = c.benchmark_group("checksum_16MiB");
    g.throughput(Throughput::Bytes(buf.len() as u64));
    for (name, alg) in ALGORITHMS {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut h = alg.map_or_else(Hasher::md5, Hasher::new);
                // In 1 MiB chunks, as the engine feeds it.
                for chunk in buf.chunks(MIB) {
                    h.update(chunk);
                }
                black_box(h.finish(buf.len() as u64))
            });
        });
    }
    g.finish();
}

fn crc_combine(c: &mut Criterion) {
    let mut g = c.benchmark_group("combine_10000_parts");
    for alg in [
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
    ] {
        let parts: Vec<_> = (0..10_000u32)
            .map(|i| {
                let mut h = Hasher::new(alg);
                h.update(&i.to_le_bytes());
                let mut d = h.finish(4);
                d.len = 5 * MIB as u64;
                d
            })
            .collect();
        g.bench_function(format!("{alg:?}"), |b| {
            b.iter(|| black_box(combine(alg, &parts)))
        });
    }
    g.finish();
}

fn planner(c: &mut Criterion) {
    let cfg = PlanConfig::default();
    let mut g = c.benchmark_group("plan");
    for (name, size) in [("1GiB", 1u64 << 30), ("48TiB", 48u64 << 40)] {
        g.bench_function(name, |b| b.iter(|| black_box(plan(black_box(size), &cfg))));
    }
    g.finish();
}

fn journal_append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileJournalStore::new(dir.path().join("state"));
    let file = dir.path().join("source.bin");
    std::fs::write(&file, b"x").unwrap();
    let source = SourceIdentity::of(&file).unwrap();
    let destination = Destination {
        endpoint: "http://127.0.0.1:9000".into(),
        bucket: "bench".into(),
        key: "k".into(),
    };
    let id = store.id_for(&destination, &file);
    let mut handle = store.open(&id).unwrap();
    handle.write_intent(&destination, &source).unwrap();
    let mut n = 0u32;
    c.bench_function("journal_append_part_fsync", |b| {
        b.iter(|| {
            n += 1;
            handle
                .write_part(&PartRecord {
                    part: n,
                    size: 16 * MIB as u64,
                    etag: "\"0123456789abcdef0123456789abcdef\"".into(),
                    crc64nvme: "AAAAAAAAAAA=".into(),
                    checksum: Some("AAAAAAAAAAA=".into()),
                })
                .unwrap()
        })
    });
}

fn aws_chunked(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let chunk = Bytes::from(data(MIB));
    let mut g = c.benchmark_group("aws_chunked_16MiB");
    g.throughput(Throughput::Bytes(16 * MIB as u64));
    g.bench_function("unsigned_crc64nvme_trailer", |b| {
        b.iter(|| {
            let mut items: Vec<std::io::Result<ChunkItem>> = (0..16)
                .map(|_| Ok(ChunkItem::Data(chunk.clone())))
                .collect();
            items.push(Ok(ChunkItem::Trailer(ferry_s3::ChecksumValue {
                algorithm: ChecksumAlgorithm::Crc64Nvme,
                value: "AAAAAAAAAAA=".into(),
            })));
            let stream: ChunkStream = Box::pin(futures_util::stream::iter(items));
            rt.block_on(async {
                let mut body = frame(stream, Some(ChecksumAlgorithm::Crc64Nvme), None);
                let mut n = 0usize;
                while let Some(b) = body.next().await {
                    n += b.unwrap().len();
                }
                black_box(n)
            })
        })
    });
    g.finish();
}

/// A backup tool restoring many small chunks starts a transfer for each, all at once: what
/// each costs the engine (its context, task and event buffer), beside the bytes.
fn many_transfers(c: &mut Criterion) {
    const N: usize = 1000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s3 = ferry_testkit::MemoryClient::new(std::time::Duration::ZERO);
    s3.bucket("b");
    for i in 0..N {
        s3.insert("b", &format!("k{i}"), data(4096));
    }
    let manager = rt
        .block_on(async { Manager::new(std::sync::Arc::new(s3), ManagerConfig::default()) })
        .unwrap();
    let mut g = c.benchmark_group("transfers");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("1000_downloads_of_4KiB_to_memory", |b| {
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..N)
                    .map(|i| manager.download(Download::new("b", format!("k{i}"), Target::Memory)))
                    .collect();
                for h in handles {
                    black_box(h.wait().await.unwrap());
                }
            })
        })
    });
    g.finish();
}

criterion_group!(
    micro,
    checksums,
    crc_combine,
    planner,
    journal_append,
    aws_chunked,
    many_transfers
);
criterion_main!(micro);
