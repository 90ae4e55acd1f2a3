//! Payload hashes on s3s-fs; ACL grants, SSE-KMS and object lock on moto.

use super::*;

/// Sends a PUT whose `x-amz-content-sha256` does not match its body, signed correctly
/// otherwise: s3s-fs must refuse it, which is what makes ferry's accepted PUTs evidence.
fn put_with_wrong_payload_hash(server: &TestServer, bucket: &str, key: &str) -> String {
    use std::io::{Read, Write};
    let addr = server.endpoint.trim_start_matches("http://").to_string();
    let body = b"the body";
    let wrong = signing::sha256_hex(b"another body");
    let path = format!("/{bucket}/{key}");
    let headers = vec![
        ("host".to_string(), addr.clone()),
        ("x-amz-content-sha256".to_string(), wrong.clone()),
    ];
    let sig = signing::sign_headers(
        &signing::SignableRequest {
            method: "PUT",
            path: &path,
            query: &[],
            headers: &headers,
            payload_hash: &wrong,
        },
        &signing::SigningParams {
            access_key_id: &server.access_key,
            secret_access_key: &server.secret_key,
            session_token: None,
            region: &server.region,
            service: "s3",
            time: time::OffsetDateTime::now_utc(),
            normalize_path: false,
        },
    );
    let mut req = format!(
        "PUT {path} HTTP/1.1\r\nhost: {addr}\r\nx-amz-content-sha256: {wrong}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in &sig.headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn s3s_fs_checks_every_payload_hash_ferry_sends() {
    let fs = ferry_testkit::S3sFs::start().unwrap();
    let client = ferry_testkit::s3_client(&fs.server).unwrap();
    let bucket = "hashes";
    let body = data(5 * MIB + 333, 25);
    let (p1, p2) = body.split_at(5 * MIB);
    rt().block_on(async {
        client
            .create_bucket(&CreateBucketRequest {
                bucket: bucket.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        // The server refuses a wrong hash (with 500)...
        let answer = put_with_wrong_payload_hash(&fs.server, bucket, "forged");
        assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
        assert!(client.head_object(&get(bucket, "forged")).await.is_err());
        // ... and accepts what ferry signs: PutObject, UploadPart, Complete's XML.
        client
            .put_object(put(bucket, "single", body.clone()))
            .await
            .unwrap();
        let got = client
            .get_object(&GetObjectRequest {
                range: Some(ByteRange {
                    first: 10,
                    last: 19,
                }),
                ..get(bucket, "single")
            })
            .await
            .unwrap();
        assert_eq!(read_all(got).await, &body[10..20]);
        let head = client.head_object(&get(bucket, "single")).await.unwrap();
        assert_eq!(head.content_length, body.len() as u64);

        let id = create(&client, bucket, "multi", ObjectOptions::default()).await;
        let mut parts = Vec::new();
        for (n, c) in [(1u32, p1), (2u32, p2)] {
            let out = client
                .upload_part(UploadPartRequest {
                    bucket: bucket.into(),
                    key: "multi".into(),
                    upload_id: id.clone(),
                    part_number: n,
                    body: Bytes::copy_from_slice(c).into(),
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
                bucket: bucket.into(),
                key: "multi".into(),
                upload_id: id,
                parts,
                ..Default::default()
            })
            .await
            .unwrap();
        let got = client.get_object(&get(bucket, "multi")).await.unwrap();
        assert_eq!(read_all(got).await, body);

        // UploadPartCopy on s3s-fs too.
        let id = create(&client, bucket, "copied", ObjectOptions::default()).await;
        let out = client
            .upload_part_copy(&UploadPartCopyRequest {
                bucket: bucket.into(),
                key: "copied".into(),
                upload_id: id.clone(),
                part_number: 1,
                source: source(bucket, "single"),
                ..Default::default()
            })
            .await
            .unwrap();
        client
            .complete_multipart_upload(&CompleteMultipartUploadRequest {
                bucket: bucket.into(),
                key: "copied".into(),
                upload_id: id,
                parts: vec![CompletedPart {
                    part_number: 1,
                    etag: out.etag,
                    checksum: None,
                }],
                ..Default::default()
            })
            .await
            .unwrap();
        let got = client.get_object(&get(bucket, "copied")).await.unwrap();
        assert_eq!(read_all(got).await, body);
    });
    // And the bytes on its disk are the bytes sent.
    assert_eq!(
        std::fs::read(fs.root.path().join(bucket).join("multi")).unwrap(),
        body
    );
}

#[test]
fn moto_stores_grants_kms_and_object_lock() {
    let server = ferry_testkit::moto();
    let client = ferry_testkit::s3_client(server).unwrap();
    let bucket = ferry_testkit::unique_bucket("moto-shape");
    ferry_testkit::boto3(
        server,
        "s3.create_bucket(Bucket=sys.argv[1], ObjectLockEnabledForBucket=True)\nprint('{}')",
        &[&bucket],
    )
    .unwrap();
    let all_users = "http://acs.amazonaws.com/groups/global/AllUsers";
    rt().block_on(async {
        // Grants on PutObject, read back with GetObjectAcl.
        let mut req = put(&bucket, "granted", b"x".to_vec());
        req.options = ObjectOptions {
            grants: Grants {
                read: vec![Grantee::Uri(all_users.into())],
                full_control: vec![Grantee::Id("ferry-canonical-id".into())],
                ..Default::default()
            },
            ..Default::default()
        };
        client.put_object(req).await.unwrap();
        let acl = client
            .get_object_acl(&GetObjectAclRequest {
                bucket: bucket.clone(),
                key: "granted".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            acl.grants.contains(&Grant {
                grantee: Grantee::Uri(all_users.into()),
                permission: Permission::Read
            }),
            "{acl:?}"
        );
        assert!(
            acl.grants.contains(&Grant {
                grantee: Grantee::Id("ferry-canonical-id".into()),
                permission: Permission::FullControl
            }),
            "{acl:?}"
        );
        // PutObjectAcl with an AccessControlPolicy body.
        let policy = AccessControlPolicy {
            owner_id: acl.owner_id.clone(),
            owner_display_name: None,
            grants: vec![Grant {
                grantee: Grantee::Id("another-id".into()),
                permission: Permission::ReadAcp,
            }],
        };
        client
            .put_object_acl(&PutObjectAclRequest {
                bucket: bucket.clone(),
                key: "granted".into(),
                version_id: None,
                acl: AclSpec::Policy(policy.clone()),
                request: RequestOptions::default(),
            })
            .await
            .unwrap();
        // (moto accepts an AccessControlPolicy body but keeps the old grants, for boto3 too;
        // the body's shape is checked in ferry-s3's XML tests.)
        // Grant headers and a canned ACL on PutObjectAcl.
        let acl = set_acl(
            &client,
            &bucket,
            "granted",
            AclSpec::Canned("public-read".into()),
        )
        .await;
        assert!(
            acl.grants
                .iter()
                .any(|g| g.grantee == Grantee::Uri(all_users.into())
                    && g.permission == Permission::Read),
            "{acl:?}"
        );

        // SSE-S3.
        let mut req = put(&bucket, "sse-s3", b"x".to_vec());
        req.options.sse = Some(ServerSideEncryption::S3);
        client.put_object(req).await.unwrap();
        let head = client.head_object(&get(&bucket, "sse-s3")).await.unwrap();
        assert_eq!(head.server_side_encryption.as_deref(), Some("AES256"));
        // Grant headers on PutObjectAcl.
        let acl = set_acl(
            &client,
            &bucket,
            "sse-s3",
            AclSpec::Grants(Grants {
                read_acp: vec![Grantee::Id("reader-id".into())],
                write_acp: vec![Grantee::Id("writer-id".into())],
                ..Default::default()
            }),
        )
        .await;
        for (id, permission) in [
            ("reader-id", Permission::ReadAcp),
            ("writer-id", Permission::WriteAcp),
        ] {
            assert!(
                acl.grants.contains(&Grant {
                    grantee: Grantee::Id(id.into()),
                    permission
                }),
                "{acl:?}"
            );
        }

        // SSE-KMS and object lock, on PutObject and on CreateMultipartUpload.
        let options = ObjectOptions {
            sse: Some(ServerSideEncryption::Kms {
                key_id: Some("ferry-test-key".into()),
                context: Some(r#"{"purpose":"test"}"#.into()),
                bucket_key: Some(true),
                dual_layer: false,
            }),
            object_lock_mode: Some(ObjectLockMode::Governance),
            object_lock_retain_until: Some("2099-01-01T00:00:00Z".into()),
            object_lock_legal_hold: Some(true),
            ..Default::default()
        };
        let mut req = put(&bucket, "locked", b"locked bytes".to_vec());
        req.options = options.clone();
        req.content_md5 = Some(B64.encode(<md5::Md5 as md5::Digest>::digest(b"locked bytes")));
        client.put_object(req).await.unwrap();
        let id = create(&client, &bucket, "locked-mpu", options).await;
        let out = client
            .upload_part(UploadPartRequest {
                bucket: bucket.clone(),
                key: "locked-mpu".into(),
                upload_id: id.clone(),
                part_number: 1,
                body: Bytes::from_static(b"part").into(),
                ..Default::default()
            })
            .await
            .unwrap();
        client
            .complete_multipart_upload(&CompleteMultipartUploadRequest {
                bucket: bucket.clone(),
                key: "locked-mpu".into(),
                upload_id: id,
                parts: vec![CompletedPart {
                    part_number: 1,
                    etag: out.etag,
                    checksum: None,
                }],
                ..Default::default()
            })
            .await
            .unwrap();
        for key in ["locked", "locked-mpu"] {
            let head = client.head_object(&get(&bucket, key)).await.unwrap();
            if key == "locked-mpu" {
                // moto drops the object lock headers of CreateMultipartUpload (boto3's too);
                // it keeps SSE-KMS.
                assert_eq!(head.sse_kms_key_id.as_deref(), Some("ferry-test-key"));
                continue;
            }
            assert_eq!(
                head.server_side_encryption.as_deref(),
                Some("aws:kms"),
                "{key}"
            );
            assert_eq!(
                head.sse_kms_key_id.as_deref(),
                Some("ferry-test-key"),
                "{key}"
            );
            assert_eq!(
                head.object_lock_mode.as_deref(),
                Some("GOVERNANCE"),
                "{key}"
            );
            assert!(
                head.object_lock_retain_until
                    .as_deref()
                    .is_some_and(|d| d.starts_with("2099-01-01")),
                "{key}: {head:?}"
            );
            assert_eq!(head.object_lock_legal_hold.as_deref(), Some("ON"), "{key}");
        }
    });
}
