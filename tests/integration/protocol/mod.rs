//! The rest of the protocol, each on the server that can check it: copies, attributes, tags
//! and SSE-C on SeaweedFS (here); payload hashes on s3s-fs, ACL grants, SSE-KMS and object
//! lock on moto ([`servers`]); TLS trust and presigned URLs through the `ferry` binary
//! ([`tls`]).

mod servers;
mod tls;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;

use ferry_s3::*;
use ferry_testkit::TestServer;

use crate::{
    boto3_object, crc32_b64, data, ferry_command, get, put, read_all, rt, seaweed_bucket,
    sha256_hex,
};

const MIB: usize = 1024 * 1024;

fn crc32(b: &[u8]) -> ChecksumValue {
    ChecksumValue {
        algorithm: ChecksumAlgorithm::Crc32,
        value: crc32_b64(b),
    }
}

fn source(bucket: &str, key: &str) -> CopySource {
    CopySource {
        bucket: bucket.into(),
        key: key.into(),
        version_id: None,
    }
}

async fn create(client: &S3Client, bucket: &str, key: &str, options: ObjectOptions) -> String {
    client
        .create_multipart_upload(&CreateMultipartUploadRequest {
            bucket: bucket.into(),
            key: key.into(),
            options,
        })
        .await
        .unwrap()
        .upload_id
}

/// A checksum of `b` with `algorithm`, as S3 writes it.
fn checksum_of(algorithm: ChecksumAlgorithm, b: &[u8]) -> ChecksumValue {
    use sha2::Digest as _;
    let raw: Vec<u8> = match algorithm {
        ChecksumAlgorithm::Crc32 => (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, b)
            as u32)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Crc32c => (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, b)
            as u32)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Crc64Nvme => crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, b)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Sha1 => sha1::Sha1::digest(b).to_vec(),
        ChecksumAlgorithm::Sha256 => sha2::Sha256::digest(b).to_vec(),
    };
    ChecksumValue {
        algorithm,
        value: B64.encode(raw),
    }
}

#[test]
fn every_checksum_algorithm_is_checked_by_seaweedfs() {
    let (_s, client, bucket) = seaweed_bucket("proto-sums");
    let body = data(70_000, 30);
    rt().block_on(async {
        for algorithm in ChecksumAlgorithm::ALL {
            let key = format!("sum-{algorithm}");
            // A wrong value is refused ...
            let mut req = put(&bucket, &key, body.clone());
            req.checksum = Some(checksum_of(algorithm, b"something else"));
            let e = client.put_object(req).await.unwrap_err();
            assert_eq!(e.status(), Some(400), "{algorithm}: {e}");
            // ... the right one stored and given back.
            let mut req = put(&bucket, &key, body.clone());
            req.checksum = Some(checksum_of(algorithm, &body));
            client.put_object(req).await.unwrap();
            let head = client
                .head_object(&GetObjectRequest {
                    checksum_mode: true,
                    ..get(&bucket, &key)
                })
                .await
                .unwrap();
            assert_eq!(
                head.checksum.value,
                Some(checksum_of(algorithm, &body)),
                "{algorithm}"
            );
        }
    });
}

#[test]
fn upload_part_copy_pinned_to_its_source() {
    let (server, client, bucket) = seaweed_bucket("proto-upc");
    let body = data(7 * MIB + 5, 21);
    rt().block_on(async {
        let src_etag = client
            .put_object(put(&bucket, "src", body.clone()))
            .await
            .unwrap()
            .etag;
        let id = create(&client, &bucket, "dst", ObjectOptions::default()).await;
        // A source that changed (wrong ETag) is refused: 412, not retryable.
        let e = client
            .upload_part_copy(&UploadPartCopyRequest {
                bucket: bucket.clone(),
                key: "dst".into(),
                upload_id: id.clone(),
                part_number: 1,
                source: source(&bucket, "src"),
                source_range: Some(ByteRange {
                    first: 0,
                    last: 5 * MIB as u64 - 1,
                }),
                conditions: CopyConditions {
                    if_match: Some("\"00000000000000000000000000000000\"".into()),
                    ..Default::default()
                },
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.service().unwrap().status, 412, "{e}");
        assert!(!e.is_retryable());
        let mut parts = Vec::new();
        for (n, first, last) in [
            (1u32, 0u64, 5 * MIB as u64 - 1),
            (2, 5 * MIB as u64, body.len() as u64 - 1),
        ] {
            let out = client
                .upload_part_copy(&UploadPartCopyRequest {
                    bucket: bucket.clone(),
                    key: "dst".into(),
                    upload_id: id.clone(),
                    part_number: n,
                    source: source(&bucket, "src"),
                    source_range: Some(ByteRange { first, last }),
                    conditions: CopyConditions {
                        if_match: Some(src_etag.clone()),
                        ..Default::default()
                    },
                    ..Default::default()
                })
                .await
                .unwrap();
            parts.push(CompletedPart {
                part_number: n,
                etag: out.etag,
                checksum: None,
            });
        }
        client
            .complete_multipart_upload(&CompleteMultipartUploadRequest {
                bucket: bucket.clone(),
                key: "dst".into(),
                upload_id: id,
                parts,
                object_size: Some(body.len() as u64),
                ..Default::default()
            })
            .await
            .unwrap();
    });
    assert_eq!(
        boto3_object(server, &bucket, "dst")["sha256"],
        sha256_hex(&body)
    );
}

#[test]
fn copy_object_directives_and_tags() {
    let (server, client, bucket) = seaweed_bucket("proto-copy");
    let body = data(100_000, 22);
    rt().block_on(async {
        let mut req = put(&bucket, "src", body.clone());
        req.options = ObjectOptions {
            content: ContentHeaders {
                content_type: Some("text/x-source".into()),
                ..Default::default()
            },
            metadata: [("origin".to_string(), "source".to_string())].into(),
            tagging: vec![("stage".into(), "raw".into())],
            ..Default::default()
        };
        client.put_object(req).await.unwrap();
        // COPY keeps the source's metadata and tags.
        client
            .copy_object(&CopyObjectRequest {
                bucket: bucket.clone(),
                key: "kept".into(),
                source: source(&bucket, "src"),
                metadata_directive: Some(Directive::Copy),
                ..Default::default()
            })
            .await
            .unwrap();
        let kept = client.head_object(&get(&bucket, "kept")).await.unwrap();
        assert_eq!(kept.content.content_type.as_deref(), Some("text/x-source"));
        assert_eq!(
            kept.metadata.get("origin").map(String::as_str),
            Some("source")
        );
        let tags = tags_of(&client, &bucket, "kept").await;
        assert_eq!(tags, vec![("stage".to_string(), "raw".to_string())]);
        // REPLACE takes the request's.
        client
            .copy_object(&CopyObjectRequest {
                bucket: bucket.clone(),
                key: "replaced".into(),
                source: source(&bucket, "src"),
                metadata_directive: Some(Directive::Replace),
                tagging_directive: Some(Directive::Replace),
                options: ObjectOptions {
                    content: ContentHeaders {
                        content_type: Some("text/x-copy".into()),
                        ..Default::default()
                    },
                    metadata: [("origin".to_string(), "copy".to_string())].into(),
                    tagging: vec![("stage".into(), "copied".into())],
                    ..Default::default()
                },
                ..Default::default()
            })
            .await
            .unwrap();
        let tags = tags_of(&client, &bucket, "replaced").await;
        assert_eq!(tags, vec![("stage".to_string(), "copied".to_string())]);
        // PutObjectTagging replaces the set.
        client
            .put_object_tagging(&PutObjectTaggingRequest {
                bucket: bucket.clone(),
                key: "replaced".into(),
                tags: vec![("a".into(), "1".into()), ("b".into(), "two words".into())],
                ..Default::default()
            })
            .await
            .unwrap();
        let mut tags = tags_of(&client, &bucket, "replaced").await;
        tags.sort();
        assert_eq!(
            tags,
            vec![("a".into(), "1".into()), ("b".into(), "two words".into())]
        );
        // A copy of a missing source is an error.
        let e = client
            .copy_object(&CopyObjectRequest {
                bucket: bucket.clone(),
                key: "x".into(),
                source: source(&bucket, "missing"),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.service().unwrap().status, 404, "{e}");
    });
    let seen = boto3_object(server, &bucket, "replaced");
    assert_eq!(seen["sha256"], sha256_hex(&body));
    assert_eq!(seen["content_type"], "text/x-copy");
    assert_eq!(seen["metadata"]["origin"], "copy");
}

/// A three-part CRC32 object, uploaded with ferry-s3.
async fn three_part_object(client: &S3Client, bucket: &str, body: &[u8]) {
    let options = ObjectOptions {
        checksum_algorithm: Some(ChecksumAlgorithm::Crc32),
        checksum_type: Some(ChecksumType::Composite),
        ..Default::default()
    };
    let id = create(client, bucket, "three", options).await;
    let mut parts = Vec::new();
    for (i, c) in body.chunks(5 * MIB).enumerate() {
        let n = i as u32 + 1;
        let out = client
            .upload_part(UploadPartRequest {
                bucket: bucket.into(),
                key: "three".into(),
                upload_id: id.clone(),
                part_number: n,
                body: Bytes::copy_from_slice(c).into(),
                checksum: Some(crc32(c)),
                ..Default::default()
            })
            .await
            .unwrap();
        parts.push(CompletedPart {
            part_number: n,
            etag: out.etag,
            checksum: Some(crc32(c)),
        });
    }
    client
        .complete_multipart_upload(&CompleteMultipartUploadRequest {
            bucket: bucket.into(),
            key: "three".into(),
            upload_id: id,
            parts,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Both pages of a three-part object's attributes, two parts a page.
async fn attribute_pages(
    client: &S3Client,
    bucket: &str,
) -> (GetObjectAttributesOutput, Vec<PartInfo>) {
    let mut req = GetObjectAttributesRequest {
        bucket: bucket.into(),
        key: "three".into(),
        max_parts: Some(2),
        ..Default::default()
    };
    let first = client.get_object_attributes(&req).await.unwrap();
    let page = first.object_parts.clone().expect("ObjectParts");
    assert_eq!(page.total_parts_count, Some(3));
    assert_eq!(page.parts.len(), 2);
    req.part_number_marker = page.next_part_number_marker;
    let rest = client
        .get_object_attributes(&req)
        .await
        .unwrap()
        .object_parts
        .unwrap();
    assert_eq!(rest.next_part_number_marker, None);
    let parts = page.parts.into_iter().chain(rest.parts).collect();
    (first, parts)
}

#[test]
fn object_attributes_list_parts_page_by_page() {
    let (_s, client, bucket) = seaweed_bucket("proto-attrs");
    let body = data(11 * MIB, 23);
    rt().block_on(async {
        three_part_object(&client, &bucket, &body).await;
        let (first, parts) = attribute_pages(&client, &bucket).await;
        assert_eq!(first.object_size, Some(body.len() as u64));
        assert!(first.etag.as_deref().unwrap().ends_with("-3"), "{first:?}");
        assert_eq!(
            parts
                .iter()
                .map(|p| (p.part_number, p.size))
                .collect::<Vec<_>>(),
            vec![(1, 5 * MIB as u64), (2, 5 * MIB as u64), (3, MIB as u64)]
        );
    });
}

/// SeaweedFS 4.48 reports no checksum in GetObjectAttributes; moto reports the object's (but
/// no ObjectParts). Per-part checksums are parsed in ferry-s3's XML tests.
#[test]
fn object_attributes_report_the_checksum_on_moto() {
    let server = ferry_testkit::moto();
    let client = ferry_testkit::s3_client(server).unwrap();
    let bucket = ferry_testkit::unique_bucket("moto-attrs");
    let body = data(11 * MIB, 29);
    rt().block_on(async {
        client
            .create_bucket(&CreateBucketRequest {
                bucket: bucket.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        three_part_object(&client, &bucket, &body).await;
        let attrs = client
            .get_object_attributes(&GetObjectAttributesRequest {
                bucket: bucket.clone(),
                key: "three".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(attrs.object_size, Some(body.len() as u64));
        let mut cat = Vec::new();
        for c in body.chunks(5 * MIB) {
            cat.extend_from_slice(&B64.decode(crc32_b64(c)).unwrap());
        }
        // moto drops the -N suffix of composite values (testbed.md).
        let value = attrs.checksum.value.expect("a checksum").value;
        assert_eq!(value.trim_end_matches("-3"), crc32_b64(&cat));
        assert_eq!(attrs.checksum.checksum_type, Some(ChecksumType::Composite));
    });
}

#[test]
fn sse_c_on_every_request_that_needs_it() {
    let (_s, client, bucket) = seaweed_bucket("proto-ssec");
    let key = SseCustomerKey::new(&[0x42; 32]).unwrap();
    let other = SseCustomerKey::new(&[0x17; 32]).unwrap();
    let with = |k: &SseCustomerKey| RequestOptions {
        sse_customer_key: Some(k.clone()),
        ..Default::default()
    };
    let body = data(5 * MIB + 1000, 24);
    let (p1, p2) = body.split_at(5 * MIB);
    rt().block_on(async {
        // Multipart with a checksum algorithm: Create, parts, ListParts and Complete carry it.
        let options = ObjectOptions {
            checksum_algorithm: Some(ChecksumAlgorithm::Crc32),
            checksum_type: Some(ChecksumType::Composite),
            request: with(&key),
            ..Default::default()
        };
        let id = create(&client, &bucket, "secret", options).await;
        let mut parts = Vec::new();
        for (n, c) in [(1u32, p1), (2u32, p2)] {
            let out = client
                .upload_part(UploadPartRequest {
                    bucket: bucket.clone(),
                    key: "secret".into(),
                    upload_id: id.clone(),
                    part_number: n,
                    body: Bytes::copy_from_slice(c).into(),
                    checksum: Some(crc32(c)),
                    request: with(&key),
                    ..Default::default()
                })
                .await
                .unwrap();
            parts.push(CompletedPart {
                part_number: n,
                etag: out.etag,
                checksum: Some(crc32(c)),
            });
        }
        let listed = list_all_parts(
            &client,
            &ListPartsRequest {
                bucket: bucket.clone(),
                key: "secret".into(),
                upload_id: id.clone(),
                request: with(&key),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(listed.len(), 2);
        client
            .complete_multipart_upload(&CompleteMultipartUploadRequest {
                bucket: bucket.clone(),
                key: "secret".into(),
                upload_id: id,
                parts,
                request: with(&key),
                ..Default::default()
            })
            .await
            .unwrap();
        // Without the key: 400; with another key: 403; with the key: the bytes.
        let e = client
            .get_object(&get(&bucket, "secret"))
            .await
            .unwrap_err();
        assert_eq!(e.service().unwrap().status, 400, "{e}");
        let e = client
            .get_object(&GetObjectRequest {
                request: with(&other),
                ..get(&bucket, "secret")
            })
            .await
            .unwrap_err();
        assert_eq!(e.service().unwrap().status, 403, "{e}");
        let got = client
            .get_object(&GetObjectRequest {
                request: with(&key),
                ..get(&bucket, "secret")
            })
            .await
            .unwrap();
        assert_eq!(read_all(got).await, body);
        let head = client
            .head_object(&GetObjectRequest {
                request: with(&key),
                ..get(&bucket, "secret")
            })
            .await
            .unwrap();
        assert_eq!(head.sse_customer_key_md5.as_deref(), Some(key.key_md5()));
        let attrs = client
            .get_object_attributes(&GetObjectAttributesRequest {
                bucket: bucket.clone(),
                key: "secret".into(),
                request: with(&key),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(attrs.object_size, Some(body.len() as u64));
        // A copy reads the source with its key and writes the destination with another.
        client
            .copy_object(&CopyObjectRequest {
                bucket: bucket.clone(),
                key: "copy".into(),
                source: source(&bucket, "secret"),
                source_sse_customer_key: Some(key.clone()),
                options: ObjectOptions {
                    request: with(&other),
                    ..Default::default()
                },
                ..Default::default()
            })
            .await
            .unwrap();
        let got = client
            .get_object(&GetObjectRequest {
                request: with(&other),
                ..get(&bucket, "copy")
            })
            .await
            .unwrap();
        assert_eq!(read_all(got).await, body);
    });
}

/// An object's tags.
async fn tags_of(client: &S3Client, bucket: &str, key: &str) -> Vec<(String, String)> {
    client
        .get_object_tagging(&GetObjectTaggingRequest {
            bucket: bucket.into(),
            key: key.into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Sets an object's ACL, then reads it back.
async fn set_acl(client: &S3Client, bucket: &str, key: &str, acl: AclSpec) -> AccessControlPolicy {
    client
        .put_object_acl(&PutObjectAclRequest {
            bucket: bucket.into(),
            key: key.into(),
            version_id: None,
            acl,
            request: RequestOptions::default(),
        })
        .await
        .unwrap();
    client
        .get_object_acl(&GetObjectAclRequest {
            bucket: bucket.into(),
            key: key.into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// SeaweedFS answers UploadPartCopy with source SSE-C headers 501, moto and s3s-fs ignore
/// SSE-C: so the request's shape is checked on the wire here, and a 200 whose body is an
/// `<Error>` is an error for the copy operations too.
#[test]
fn upload_part_copy_sends_both_sse_c_keys_and_reads_errors_in_200s() {
    const ERR: &str = "<?xml version=\"1.0\"?>\n  <Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>";
    let canned = ferry_testkit::RecordingServer::start(format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{ERR}",
        ERR.len()
    ));
    let client = ferry_testkit::s3_client(&canned.server()).unwrap();
    let src_key = SseCustomerKey::new(&[1; 32]).unwrap();
    let dst_key = SseCustomerKey::new(&[2; 32]).unwrap();
    let e = rt()
        .block_on(client.upload_part_copy(&UploadPartCopyRequest {
            bucket: "dst-bucket".into(),
            key: "dst/key".into(),
            upload_id: "UP".into(),
            part_number: 3,
            source: CopySource {
                bucket: "src-bucket".into(),
                key: "src dir/ü key".into(),
                version_id: Some("v1".into()),
            },
            source_range: Some(ByteRange { first: 0, last: 99 }),
            conditions: CopyConditions {
                if_match: Some("\"etag\"".into()),
                ..Default::default()
            },
            source_sse_customer_key: Some(src_key.clone()),
            request: RequestOptions {
                sse_customer_key: Some(dst_key.clone()),
                ..Default::default()
            },
        }))
        .unwrap_err();
    assert_eq!(e.code(), Some("SlowDown"), "{e}");
    assert!(e.is_retryable() && e.is_throttling());
    let e = rt()
        .block_on(client.copy_object(&CopyObjectRequest {
            bucket: "dst-bucket".into(),
            key: "k".into(),
            source: source("src-bucket", "k"),
            ..Default::default()
        }))
        .unwrap_err();
    assert_eq!(e.code(), Some("SlowDown"), "{e}");
    let _ = rt().block_on(client.head_object(&GetObjectRequest {
        request: RequestOptions {
            expected_bucket_owner: Some("111122223333".into()),
            request_payer: true,
            sse_customer_key: Some(src_key.clone()),
        },
        ..get("bkt", "k")
    }));
    let heads = canned.requests();
    let last = heads[2].to_ascii_lowercase();
    for needle in [
        "x-amz-expected-bucket-owner: 111122223333\r\n",
        "x-amz-request-payer: requester\r\n",
        "x-amz-server-side-encryption-customer-algorithm: aes256\r\n",
    ] {
        assert!(last.contains(needle), "{needle} missing in {last}");
    }
    let head = heads[0].to_ascii_lowercase();
    assert!(
        head.starts_with("put /dst-bucket/dst/key?partnumber=3&uploadid=up "),
        "{head}"
    );
    for (name, value) in [
        (
            "x-amz-copy-source",
            "/src-bucket/src%20dir/%c3%bc%20key?versionid=v1".to_string(),
        ),
        ("x-amz-copy-source-range", "bytes=0-99".into()),
        ("x-amz-copy-source-if-match", "\"etag\"".into()),
        (
            "x-amz-copy-source-server-side-encryption-customer-algorithm",
            "aes256".into(),
        ),
        (
            "x-amz-copy-source-server-side-encryption-customer-key-md5",
            src_key.key_md5().to_ascii_lowercase(),
        ),
        (
            "x-amz-server-side-encryption-customer-algorithm",
            "aes256".into(),
        ),
        (
            "x-amz-server-side-encryption-customer-key-md5",
            dst_key.key_md5().to_ascii_lowercase(),
        ),
    ] {
        assert!(
            head.contains(&format!("{name}: {value}\r\n")),
            "{name} missing in {head}"
        );
    }
}

#[test]
fn acl_mix_is_refused_before_sending_and_canned_acl_is_set() {
    let (server, client, bucket) = seaweed_bucket("proto-acl");
    rt().block_on(async {
        let mut req = put(&bucket, "mixed", b"x".to_vec());
        req.options = ObjectOptions {
            acl: Some("private".into()),
            grants: Grants {
                read: vec!["id=someone".parse().unwrap()],
                ..Default::default()
            },
            ..Default::default()
        };
        let e = client.put_object(req).await.unwrap_err();
        assert_eq!(
            e.client_kind(),
            Some(ClientErrorKind::InvalidRequest),
            "{e}"
        );
        assert!(e.to_string().contains("cannot be combined"), "{e}");
        let e = client
            .create_multipart_upload(&CreateMultipartUploadRequest {
                bucket: bucket.clone(),
                key: "mixed".into(),
                options: ObjectOptions {
                    acl: Some("public-read".into()),
                    grants: Grants {
                        full_control: vec!["id=someone".parse().unwrap()],
                        ..Default::default()
                    },
                    ..Default::default()
                },
            })
            .await
            .unwrap_err();
        assert_eq!(
            e.client_kind(),
            Some(ClientErrorKind::InvalidRequest),
            "{e}"
        );
        client
            .put_object(put(&bucket, "acl", b"x".to_vec()))
            .await
            .unwrap();
        let acl = set_acl(&client, &bucket, "acl", AclSpec::Canned("private".into())).await;
        // SeaweedFS reflects the owner only.
        assert!(!acl.owner_id.is_empty(), "{acl:?}");
    });
    assert_eq!(crate::boto3_uploads(server, &bucket), Vec::<String>::new());
    let listed = ferry_testkit::boto3(
        server,
        "r = s3.list_objects_v2(Bucket=sys.argv[1])\nprint(json.dumps(sorted(o['Key'] for o in r.get('Contents', []))))",
        &[&bucket],
    )
    .unwrap();
    assert_eq!(
        listed,
        serde_json::json!(["acl"]),
        "nothing else was created"
    );
}
