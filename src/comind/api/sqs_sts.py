"""STS ``GetCallerIdentity`` on the SQS endpoint, as LocalStack and moto answer it: SDKs and
tools call it to learn the account they act in before naming queues by ARN.

The answer is the signing app's own identity: the account id its queue URLs and ARNs carry,
a user named after the app, and the access key id that signed the request. Only
``GetCallerIdentity`` is served; any other STS action is SQS's ``UnsupportedOperation``.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from comind.api.sqs_shapes import account_of

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
ACTION = "GetCallerIdentity"
_KEY_ID = re.compile(r"Credential=([^/,\s]+)/")


def caller_identity(app: str, authorization: str, request_id: str) -> bytes:
    """STS's XML answer to GetCallerIdentity for ``app``."""
    match = _KEY_ID.search(authorization)
    account = account_of(app)
    root = ET.Element(f"{ACTION}Response", xmlns=NAMESPACE)
    result = ET.SubElement(root, f"{ACTION}Result")
    for tag, text in (
        ("Arn", f"arn:aws:iam::{account}:user/{app}"),
        ("UserId", match[1] if match else app),
        ("Account", account),
    ):
        ET.SubElement(result, tag).text = text
    ET.SubElement(ET.SubElement(root, "ResponseMetadata"), "RequestId").text = request_id
    return bytes(ET.tostring(root, xml_declaration=True, encoding="utf-8"))
