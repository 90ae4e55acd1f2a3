//! Every ferry-s3 operation on SeaweedFS, read back through another operation or boto3, and
//! the errors a user meets: wrong secret, missing bucket, closed port, a key the URL layer
//! would rewrite, a 200 answer whose body is an error.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use futures_util::StreamExt;

use ferry_s3::*;

use crate::{boto3_object, boto3_uploads, crc32_b64, data, get, put, read_all, rt, seaweed_bucket};

const MIB: usize = 1024 * 1024;

fn crc64nvme_b64(b: &[u8]) -> String {
    let v = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, b);
    B64.encode(v.to_be_bytes())
}

fn md5_b64(b: &[u8]) -> String {
    use md5::Digest;
    B64.encode(md5::Md5::digest(b))
}

#[test]
fn put_get_head_delete_round_trip_with_options() {
    let (server, client, bucket) = seaweed_bucket("ops-put");
    let body = data(300_000, 1);
    rt().block_on(async {
        let mut req = put(&bucket, "dir/obj.bin", body.clone());
        req.options = ObjectOptions {
            content: ContentHeaders {
                content_type: Some("application/x-test".into()),
                cache_control: Some("max-age=60".into()),
                ..Default::default()
            },
            metadata: [("owner".to_string(), "ferry".to_string())].into(),
            ..Default::default()
        };
        req.content_md5 = Some(md5_b64(&body));
        req.checksum = Some(ChecksumValue {
            algorithm: ChecksumAlgorithm::Crc32,
            value: crc32_b64(&body),
        });
        let out = client.put_object(req).await.unwrap();
        assert!(out.etag.starts_with('"'), "{}", out.etag);

        let got = client
            .get_object(&get(&bucket, "dir/obj.bin"))
            .await
            .unwrap();
        assert_eq!(got.meta.content_length, body.len() as u64);
        assert_eq!(got.meta.etag, out.etag);
        assert_eq!(read_all(got).await, body);

        let head = client
            .head_object(&GetObjectRequest {
                checksum_mode: true,
                ..get(&bucket, "dir/obj.bin")
            })
            .await
            .unwrap();
        assert_eq!(head.content_length, body.len() as u64);
        assert_eq!(
            head.content.content_type.as_deref(),
            Some("application/x-test")
        );
        assert_eq!(head.content.cache_control.as_deref(), Some("max-age=60"));
        assert_eq!(
            head.metadata.get("owner").map(String::as_str),
            Some("ferry")
        );
        assert_eq!(
            head.checksum.value,
            Some(ChecksumValue {
                algorithm: ChecksumAlgorithm::Crc32,
                value: crc32_b64(&body)
            })
        );
    });
    // An independent client sees the same bytes and options.
    let seen = boto3_object(server, &bucket, "dir/obj.bin");
    assert_eq!(seen["sha256"], crate::sha256_hex(&body));
    assert_eq!(seen["content_type"], "application/x-test");
    assert_eq!(seen["metadata"]["owner"], "ferry");

    rt().block_on(async {
        client
            .delete_object(&DeleteObjectRequest {
                bucket: bucket.clone(),
                key: "dir/obj.bin".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let e = client
            .head_object(&get(&bucket, "dir/obj.bin"))
            .await
            .unwrap_err();
        assert_eq!(e.service().unwrap().status, 404, "{e}");
    });
}

#[test]
fn wrong_checksum_and_md5_are_rejected_by_the_server() {
    let (_s, client, bucket) = seaweed_bucket("ops-badsum");
    let body = data(10_000, 2);
    rt().block_on(async {
        let mut req = put(&bucket, "k", body.clone());
        req.checksum = Some(ChecksumValue {
            algorithm: ChecksumAlgorithm::Crc32,
            value: crc32_b64(b"other bytes"),
        });
        let e = client.put_object(req).await.unwrap_err();
        assert_eq!(e.service().unwrap().status, 400, "{e}");
        assert!(!e.is_retryable());
        let mut req = put(&bucket, "k", body.clone());
        req.content_md5 = Some(md5_b64(b"other bytes"));
        let e = client.put_object(req).await.unwrap_err();
        assert_eq!(e.service().unwrap().status, 400, "{e}");
    });
}

#[test]
fn awkward_keys_round_trip_byte_exact() {
    let (server, client, bucket) = seaweed_bucket("ops-keys");
    let keys = [
        "with space/and+plus",
        "percent%20literal",
        "question?mark#hash",
        "tilde~star*paren(",
        "ünïcödé/日本語/🚀",
        // SeaweedFS stores "a//b" as "a/b" (its filer collapses empty segments), so the
        // byte-exactness of such keys is proven on the URL, in ferry-s3's endpoint tests.
        "dots/.hidden/..twodots/.../end.",
        "semi;colon:comma,at@dollar$amp&eq=quote'bang!",
    ];
    rt().block_on(async {
        for (i, key) in keys.iter().enumerate() {
            let body = format!("object {i}: {key}").into_bytes();
            client
                .put_object(put(&bucket, key, body.clone()))
                .await
                .unwrap();
            let got = client.get_object(&get(&bucket, key)).await.unwrap();
            assert_eq!(read_all(got).await, body, "{key}");
        }
    });
    // boto3 lists exactly these keys: nothing was stored under another name.
    let listed = crate::boto3_keys(server, &bucket);
    let mut want: Vec<&str> = keys.to_vec();
    want.sort();
    assert_eq!(listed, want);
}

#[test]
fn keys_the_url_layer_would_rewrite_are_refused_before_sending() {
    let (_s, client, bucket) = seaweed_bucket("ops-dotdot");
    rt().block_on(async {
        client
            .put_object(put(&bucket, "x/b", b"the object b".to_vec()))
            .await
            .unwrap();
        // Through reqwest, x/a/../b would become x/b: ferry must not read that object.
        let e = client
            .get_object(&get(&bucket, "x/a/../b"))
            .await
            .unwrap_err();
        assert_eq!(
            e.client_kind(),
            Some(ClientErrorKind::InvalidRequest),
            "{e}"
        );
        assert!(e.to_string().contains("'..'"), "{e}");
        let e = client
            .put_object(put(&bucket, "x/./b", b"overwrite".to_vec()))
            .await
            .unwrap_err();
        assert_eq!(
            e.client_kind(),
            Some(ClientErrorKind::InvalidRequest),
            "{e}"
        );
        // x/b is untouched.
        let got = client.get_object(&get(&bucket, "x/b")).await.unwrap();
        assert_eq!(read_all(got).await, b"the object b");
    });
}

#[test]
fn ranged_conditional_and_part_reads() {
    let (_s, client, bucket) = seaweed_bucket("ops-range");
    let body = data(100_000, 3);
    rt().block_on(async {
        let etag = client
            .put_object(put(&bucket, "r", body.clone()))
            .await
            .unwrap()
            .etag;
        let got = client
            .get_object(&GetObjectRequest {
                range: Some(ByteRange {
                    first: 1000,
                    last: 1999,
                }),
                if_match: Some(etag.clone()),
                ..get(&bucket, "r")
            })
            .await
            .unwrap();
        assert_eq!(
            got.meta.content_range,
            Some(ContentRange {
                range: ByteRange {
                    first: 1000,
                    last: 1999
                },
                total: 100_000
            })
        );
        assert_eq!(read_all(got).await, &body[1000..2000]);
        let e = client
            .get_object(&GetObjectRequest {
                if_match: Some("\"0123456789abcdef0123456789abcdef\"".into()),
                ..get(&bucket, "r")
            })
            .await
            .unwrap_err();
        assert_eq!(e.service().unwrap().status, 412, "{e}");
        assert!(!e.is_retryable());
        let e = client
            .head_object(&GetObjectRequest {
                if_match: Some("\"0123456789abcdef0123456789abcdef\"".into()),
                ..get(&bucket, "r")
            })
            .await
            .unwrap_err();
        assert_eq!(e.service().unwrap().status, 412, "{e}");
    });
}

#[test]
fn version_ids_address_old_versions() {
    let (server, client, bucket) = seaweed_bucket("ops-ver");
    ferry_testkit::boto3(
        server,
        "s3.put_bucket_versioning(Bucket=sys.argv[1], VersioningConfiguration={'Status': 'Enabled'})\nprint('{}')",
        &[&bucket],
    )
    .unwrap();
    rt().block_on(async {
        let v1 = client
            .put_object(put(&bucket, "v", b"first".to_vec()))
            .await
            .unwrap()
            .version_id
            .expect("a versioned bucket returns a version id");
        client
            .put_object(put(&bucket, "v", b"second".to_vec()))
            .await
            .unwrap();
        let req = GetObjectRequest {
            version_id: Some(v1.clone()),
            ..get(&bucket, "v")
        };
        let got = client.get_object(&req).await.unwrap();
        assert_eq!(got.meta.version_id.as_deref(), Some(v1.as_str()));
        assert_eq!(read_all(got).await, b"first");
        assert_eq!(client.head_object(&req).await.unwrap().content_length, 5);
        let latest = client.get_object(&get(&bucket, "v")).await.unwrap();
        assert_eq!(read_all(latest).await, b"second");
    });
}

fn create(bucket: &str, key: &str, options: ObjectOptions) -> CreateMultipartUploadRequest {
    CreateMultipartUploadRequest {
        bucket: bucket.into(),
        key: key.into(),
        options,
    }
}

fn parts_of(bucket: &str, key: &str, id: &str) -> ListPartsRequest {
    ListPartsRequest {
        bucket: bucket.into(),
        key: key.into(),
        upload_id: id.into(),
        ..Default::default()
    }
}

fn uploads_under(bucket: &str, prefix: &str) -> ListMultipartUploadsRequest {
    ListMultipartUploadsRequest {
        bucket: bucket.into(),
        prefix: Some(prefix.into()),
        ..Default::default()
    }
}

fn part(bucket: &str, key: &str, id: &str, n: u32, body: &[u8]) -> UploadPartRequest {
    UploadPartRequest {
        bucket: bucket.into(),
        key: key.into(),
        upload_id: id.into(),
        part_number: n,
        body: Bytes::copy_from_slice(body).into(),
        ..Default::default()
    }
}

#[test]
fn multipart_upload_composite_crc32_round_trip() {
    let (server, client, bucket) = seaweed_bucket("ops-mpu");
    let body = data(5 * MIB + 123_457, 4);
    let (p1, p2) = body.split_at(5 * MIB);
    let key = "big/multi part.bin";
    rt().block_on(async {
        let options = ObjectOptions {
            content: ContentHeaders {
                content_type: Some("application/x-multi".into()),
                ..Default::default()
            },
            metadata: [("origin".to_string(), "ferry-test".to_string())].into(),
            tagging: vec![("project".into(), "ferry".into())],
            checksum_algorithm: Some(ChecksumAlgorithm::Crc32),
            checksum_type: Some(ChecksumType::Composite),
            ..Default::default()
        };
        let id = client
            .create_multipart_upload(&create(&bucket, key, options))
            .await
            .unwrap()
            .upload_id;
        let mut parts = Vec::new();
        // Sent out of order: Complete sorts them.
        for (n, bytes) in [(2u32, p2), (1u32, p1)] {
            let mut req = part(&bucket, key, &id, n, bytes);
            let sum = ChecksumValue {
                algorithm: ChecksumAlgorithm::Crc32,
                value: crc32_b64(bytes),
            };
            req.checksum = Some(sum.clone());
            req.content_md5 = Some(md5_b64(bytes));
            let out = client.upload_part(req).await.unwrap();
            parts.push(CompletedPart {
                part_number: n,
                etag: out.etag,
                checksum: Some(sum),
            });
        }
        let listed = list_all_parts(&client, &parts_of(&bucket, key, &id))
            .await
            .unwrap();
        let mut summary: Vec<(u32, u64)> = listed.iter().map(|p| (p.part_number, p.size)).collect();
        summary.sort();
        assert_eq!(summary, vec![(1, p1.len() as u64), (2, p2.len() as u64)]);
        for p in &parts {
            let l = listed
                .iter()
                .find(|l| l.part_number == p.part_number)
                .unwrap();
            assert_eq!(l.etag, p.etag);
        }
        let uploads = list_all_uploads(&client, &uploads_under(&bucket, "big/"))
            .await
            .unwrap();
        assert!(
            uploads.iter().any(|u| u.upload_id == id && u.key == key),
            "{uploads:?}"
        );

        // x-amz-mp-object-size is sent (SeaweedFS 4.48 does not check it; AWS does).
        let complete = CompleteMultipartUploadRequest {
            bucket: bucket.clone(),
            key: key.into(),
            upload_id: id.clone(),
            parts: parts.clone(),
            object_size: Some(body.len() as u64),
            ..Default::default()
        };
        let done = client.complete_multipart_upload(&complete).await.unwrap();
        assert!(done.etag.ends_with("-2\""), "{}", done.etag);
        let got = client.get_object(&get(&bucket, key)).await.unwrap();
        assert_eq!(read_all(got).await, body);
        let head = client
            .head_object(&GetObjectRequest {
                checksum_mode: true,
                ..get(&bucket, key)
            })
            .await
            .unwrap();
        // Composite: CRC32 of the concatenated part CRC32s, then -N.
        let mut cat = Vec::new();
        for b in [p1, p2] {
            cat.extend_from_slice(&B64.decode(crc32_b64(b)).unwrap());
        }
        let expected = format!("{}-2", crc32_b64(&cat));
        assert_eq!(head.checksum.value.unwrap().value, expected);
        // GET partNumber=2 shows the part boundary through Content-Range.
        let p = client
            .head_object(&GetObjectRequest {
                part_number: Some(2),
                ..get(&bucket, key)
            })
            .await
            .unwrap();
        assert_eq!(p.parts_count, Some(2));
        assert_eq!(p.content_length, p2.len() as u64);
        assert_eq!(
            p.content_range.unwrap().range.first,
            p1.len() as u64,
            "{p:?}"
        );
        let first = client
            .get_object(&GetObjectRequest {
                part_number: Some(1),
                ..get(&bucket, key)
            })
            .await
            .unwrap();
        assert_eq!(first.meta.parts_count, Some(2));
        assert_eq!(read_all(first).await, p1);
    });
    let seen = boto3_object(server, &bucket, key);
    assert_eq!(seen["sha256"], crate::sha256_hex(&body));
    assert_eq!(seen["content_type"], "application/x-multi");
    assert_eq!(seen["metadata"]["origin"], "ferry-test");
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn multipart_full_object_crc64nvme_is_checked_on_complete() {
    let (server, client, bucket) = seaweed_bucket("ops-full");
    let body = data(6 * MIB + 7, 5);
    let (p1, p2) = body.split_at(5 * MIB);
    rt().block_on(async {
        let options = ObjectOptions {
            checksum_algorithm: Some(ChecksumAlgorithm::Crc64Nvme),
            checksum_type: Some(ChecksumType::FullObject),
            ..Default::default()
        };
        for (attempt, whole) in [
            (0, crc64nvme_b64(b"not the object")),
            (1, crc64nvme_b64(&body)),
        ] {
            let key = format!("full-{attempt}");
            let id = client
                .create_multipart_upload(&create(&bucket, &key, options.clone()))
                .await
                .unwrap()
                .upload_id;
            let mut parts = Vec::new();
            for (n, bytes) in [(1u32, p1), (2u32, p2)] {
                let mut req = part(&bucket, &key, &id, n, bytes);
                let sum = ChecksumValue {
                    algorithm: ChecksumAlgorithm::Crc64Nvme,
                    value: crc64nvme_b64(bytes),
                };
                req.checksum = Some(sum.clone());
                let out = client.upload_part(req).await.unwrap();
                parts.push(CompletedPart {
                    part_number: n,
                    etag: out.etag,
                    checksum: Some(sum),
                });
            }
            let complete = CompleteMultipartUploadRequest {
                bucket: bucket.clone(),
                key: key.clone(),
                upload_id: id.clone(),
                parts,
                checksum: Some(ChecksumValue {
                    algorithm: ChecksumAlgorithm::Crc64Nvme,
                    value: whole.clone(),
                }),
                checksum_type: Some(ChecksumType::FullObject),
                object_size: Some(body.len() as u64),
                ..Default::default()
            };
            let result = client.complete_multipart_upload(&complete).await;
            if attempt == 0 {
                let e = result.unwrap_err();
                assert_eq!(e.service().unwrap().status, 400, "{e}");
                client
                    .abort_multipart_upload(&AbortMultipartUploadRequest {
                        bucket: bucket.clone(),
                        key: key.clone(),
                        upload_id: id,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
            } else {
                let done = result.unwrap();
                assert_eq!(done.checksum.map(|c| c.value), Some(whole.clone()));
                let head = client
                    .head_object(&GetObjectRequest {
                        checksum_mode: true,
                        ..get(&bucket, &key)
                    })
                    .await
                    .unwrap();
                assert_eq!(head.checksum.value.unwrap().value, whole);
                assert_eq!(head.checksum.checksum_type, Some(ChecksumType::FullObject));
            }
        }
    });
    assert_eq!(
        boto3_object(server, &bucket, "full-1")["sha256"],
        crate::sha256_hex(&body)
    );
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn abort_removes_the_upload() {
    let (server, client, bucket) = seaweed_bucket("ops-abort");
    rt().block_on(async {
        let id = client
            .create_multipart_upload(&create(&bucket, "a", ObjectOptions::default()))
            .await
            .unwrap()
            .upload_id;
        client
            .upload_part(part(&bucket, "a", &id, 1, b"some bytes"))
            .await
            .unwrap();
        assert_eq!(boto3_uploads(server, &bucket), vec![id.clone()]);
        client
            .abort_multipart_upload(&AbortMultipartUploadRequest {
                bucket: bucket.clone(),
                key: "a".into(),
                upload_id: id.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        let e = client
            .list_parts(&ListPartsRequest {
                bucket: bucket.clone(),
                key: "a".into(),
                upload_id: id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("NoSuchUpload"), "{e}");
    });
    assert!(boto3_uploads(server, &bucket).is_empty());
}

#[test]
fn list_parts_and_uploads_paginate() {
    let (_s, client, bucket) = seaweed_bucket("ops-pages");
    rt().block_on(async {
        // 1,001 one-byte parts: more than one 1,000-entry page of ListParts.
        let id = client
            .create_multipart_upload(&create(&bucket, "many", ObjectOptions::default()))
            .await
            .unwrap()
            .upload_id;
        let results = futures_util::stream::iter(1..=1001u32)
            .map(|n| {
                let client = client.clone();
                let req = part(&bucket, "many", &id, n, &[n as u8]);
                async move { client.upload_part(req).await }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        assert!(results.iter().all(Result::is_ok));
        let page = client
            .list_parts(&ListPartsRequest {
                bucket: bucket.clone(),
                key: "many".into(),
                upload_id: id.clone(),
                max_parts: Some(400),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.parts.len(), 400);
        assert_eq!(page.next_part_number_marker, Some(400));
        let all = list_all_parts(&client, &parts_of(&bucket, "many", &id))
            .await
            .unwrap();
        let mut numbers: Vec<u32> = all.iter().map(|p| p.part_number).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers, (1..=1001).collect::<Vec<_>>());

        // Three more uploads, listed two per page.
        let mut ids = vec![id];
        for k in ["u/1", "u/2", "u/2"] {
            ids.push(
                client
                    .create_multipart_upload(&create(&bucket, k, ObjectOptions::default()))
                    .await
                    .unwrap()
                    .upload_id,
            );
        }
        let mut seen = Vec::new();
        let mut req = ListMultipartUploadsRequest {
            bucket: bucket.clone(),
            max_uploads: Some(2),
            ..Default::default()
        };
        let mut pages = 0;
        loop {
            let page = client.list_multipart_uploads(&req).await.unwrap();
            pages += 1;
            assert!(page.uploads.len() <= 2);
            seen.extend(page.uploads.into_iter().map(|u| u.upload_id));
            if !page.is_truncated {
                break;
            }
            req.key_marker = page.next_key_marker;
            req.upload_id_marker = page.next_upload_id_marker;
            assert!(pages < 10, "pagination does not end");
        }
        seen.sort();
        ids.sort();
        assert_eq!(seen, ids);
        assert!(pages >= 2);
        assert_eq!(
            list_all_uploads(&client, &uploads_under(&bucket, "u/"))
                .await
                .unwrap()
                .len(),
            3
        );
    });
}

#[test]
fn wrong_secret_key_is_a_clear_access_error() {
    let (server, _client, bucket) = seaweed_bucket("ops-denied");
    let mut wrong = server.clone();
    wrong.secret_key = "not-the-secret".into();
    let client = ferry_testkit::s3_client(&wrong).unwrap();
    let e = rt()
        .block_on(client.put_object(put(&bucket, "k", b"x".to_vec())))
        .unwrap_err();
    let s = e.service().expect("the service answered");
    assert_eq!(s.status, 403, "{e}");
    assert!(!e.is_retryable());
    let msg = e.to_string();
    assert!(msg.starts_with("PutObject failed: "), "{msg}");
    assert!(
        msg.contains("secret access key") || msg.contains("credentials"),
        "{msg}"
    );
    assert!(!msg.contains("not-the-secret"), "{msg}");
}

#[test]
fn missing_bucket_is_no_such_bucket() {
    let (_server, client, _bucket) = seaweed_bucket("ops-nobucket");
    let e = rt()
        // (SeaweedFS creates a missing bucket on PUT for an admin identity; GET does not.)
        .block_on(client.get_object(&get("ferry-no-such-bucket-x1", "k")))
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"), "{e}");
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("check the bucket name"), "{e}");
}

#[test]
fn closed_port_is_a_retryable_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = ferry_testkit::TestServer {
        endpoint: format!("http://127.0.0.1:{port}"),
        access_key: "k".into(),
        secret_key: "s".into(),
        region: "us-east-1".into(),
    };
    let client = ferry_testkit::s3_client(&server).unwrap();
    let e = rt()
        .block_on(client.head_object(&get("bucket", "key")))
        .unwrap_err();
    assert_eq!(e.client_kind(), Some(ClientErrorKind::Connect), "{e}");
    assert!(e.is_retryable());
    assert!(e.to_string().contains("cannot connect"), "{e}");
}

#[test]
fn a_200_answer_with_an_error_body_is_an_error() {
    const BODY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n   <Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>RQ1</RequestId></Error>";
    let canned = ferry_testkit::RecordingServer::start(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    ));
    let client = ferry_testkit::s3_client(&canned.server()).unwrap();
    let e = rt()
        .block_on(
            client.complete_multipart_upload(&CompleteMultipartUploadRequest {
                bucket: "bkt".into(),
                key: "k".into(),
                upload_id: "u".into(),
                parts: vec![CompletedPart {
                    part_number: 1,
                    etag: "\"e\"".into(),
                    checksum: None,
                }],
                ..Default::default()
            }),
        )
        .unwrap_err();
    let s = e.service().expect("an error said by the service");
    assert_eq!((s.status, s.code.as_str()), (200, "InternalError"), "{e}");
    assert_eq!(s.request_id.as_deref(), Some("RQ1"));
    assert!(e.is_retryable());
}

/// DeleteObjects removes many keys in one request (awkward keys and a missing one too: S3
/// counts a missing key as deleted); boto3 then lists none; more than 1,000 keys are refused
/// before sending.
#[test]
fn delete_objects_removes_many_keys_in_one_request() {
    let (server, client, bucket) = seaweed_bucket("ops-delmany");
    let keys = ["a.txt", "dir/b.bin", "sp ace & <amp>.txt", "ünï/çødé.txt"];
    rt().block_on(async {
        for k in keys {
            client
                .put_object(put(&bucket, k, b"x".to_vec()))
                .await
                .unwrap();
        }
        client
            .put_object(put(&bucket, "keep.txt", b"k".to_vec()))
            .await
            .unwrap();
        let mut objects: Vec<ObjectIdentifier> = keys
            .iter()
            .map(|k| ObjectIdentifier {
                key: k.to_string(),
                version_id: None,
            })
            .collect();
        objects.push(ObjectIdentifier {
            key: "never-there".into(),
            version_id: None,
        });
        let out = client
            .delete_objects(&DeleteObjectsRequest {
                bucket: bucket.clone(),
                objects,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(out.failed.is_empty(), "{out:?}");
        assert_eq!(out.deleted.len(), 5, "{out:?}");
        let too_many = DeleteObjectsRequest {
            bucket: bucket.clone(),
            objects: vec![ObjectIdentifier::default(); 1001],
            ..Default::default()
        };
        let e = client.delete_objects(&too_many).await.unwrap_err();
        assert_eq!(
            e.client_kind(),
            Some(ClientErrorKind::InvalidRequest),
            "{e}"
        );
    });
    assert_eq!(crate::boto3_keys(server, &bucket), ["keep.txt"]);
}
