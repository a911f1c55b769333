"""OAuth2 and scopes as FalconPy sees them."""

from falconpy import OAuth2, Hosts, HostGroup


def test_bad_credentials_are_403(base_url):
    answer = OAuth2(client_id="0" * 32, client_secret="nope", base_url=base_url).token()
    assert answer["status_code"] == 403
    assert "Client authentication failed" in answer["body"]["errors"][0]["message"]


def test_read_only_client_gets_the_gateway_403(read_only):
    groups = HostGroup(auth_object=read_only)
    assert groups.query_host_groups()["status_code"] == 200
    denied = groups.create_host_groups(name="not allowed", group_type="static")
    assert denied["status_code"] == 403
    assert denied["body"]["errors"][0]["message"] == "access denied, authorization failed"


def test_revoked_token_is_401(base_url, auth):
    import os
    oauth = OAuth2(client_id=os.environ["FALCON_CLIENT_ID"],
                   client_secret=os.environ["FALCON_CLIENT_SECRET"], base_url=base_url)
    token = oauth.token()["body"]["access_token"]
    assert oauth.revoke(token=token)["status_code"] == 200
    hosts = Hosts(access_token=token, base_url=base_url)
    answer = hosts.query_devices_by_filter(limit=1)
    assert answer["status_code"] == 401
    assert answer["body"]["errors"][0]["message"] == "access denied, invalid bearer token"


def test_member_cid_reaches_a_child_tenant(base_url, auth):
    import os
    child = OAuth2(client_id=os.environ["FALCON_CLIENT_ID"],
                   client_secret=os.environ["FALCON_CLIENT_SECRET"], base_url=base_url,
                   member_cid=os.environ["FALCON_CHILD_CID"])
    hosts = Hosts(auth_object=child)
    answer = hosts.query_devices_by_filter_combined(limit=1)
    assert answer["status_code"] == 200
    assert answer["body"]["resources"][0]["cid"] == os.environ["FALCON_CHILD_CID"]
    parent = Hosts(auth_object=auth).query_devices_by_filter_combined(limit=1)
    assert parent["body"]["resources"][0]["cid"] != os.environ["FALCON_CHILD_CID"]
