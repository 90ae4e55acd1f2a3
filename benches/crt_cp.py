#!/usr/bin/env python3
"""The AWS CRT S3 client as a copy command, for benches/peers.py (boto3's own CRT switch
cannot reach a custom http endpoint, so s3transfer.crt is called directly, as
../shared/testbed.md describes).

  crt_cp.py up|down ENDPOINT LOCAL BUCKET KEY

LOCAL is a file, or a folder when KEY ends with "/" (every file in it, or every object under
the prefix). Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

import os
import sys

import botocore.session
from awscrt.auth import AwsCredentialsProvider
from botocore.config import Config
from s3transfer.crt import BotocoreCRTRequestSerializer, CRTTransferManager, create_s3_crt_client


def main():
    direction, endpoint, local, bucket, key = sys.argv[1:6]
    ak, sk = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    client = create_s3_crt_client(
        "us-east-1",
        crt_credentials_provider=AwsCredentialsProvider.new_static(ak, sk),
        part_size=8 * 1024 * 1024,
        use_ssl=False,
    )
    session = botocore.session.Session()
    config = Config(s3={"addressing_style": "path"})
    serializer = BotocoreCRTRequestSerializer(session, {"endpoint_url": endpoint, "config": config})
    pairs = []
    if key.endswith("/"):
        if direction == "up":
            pairs = [(os.path.join(local, n), key + n) for n in sorted(os.listdir(local))]
        else:
            s3 = session.create_client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                       aws_access_key_id=ak, aws_secret_access_key=sk, config=config)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                for o in page.get("Contents", []):
                    pairs.append((os.path.join(local, o["Key"][len(key):]), o["Key"]))
    else:
        pairs = [(local, key)]
    with CRTTransferManager(client, serializer) as manager:
        futures = [
            manager.upload(path, bucket, k) if direction == "up" else manager.download(bucket, k, path)
            for path, k in pairs
        ]
        for f in futures:
            f.result()


if __name__ == "__main__":
    main()
