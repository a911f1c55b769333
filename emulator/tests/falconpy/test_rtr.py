"""Real Time Response: sessions, commands per tier, batches, scripts."""

from conftest import ok
from falconpy import Hosts, RealTimeResponse, RealTimeResponseAdmin


def hosts_by_state(auth, state, count):
    hosts = Hosts(auth_object=auth)
    ids = ok(hosts.query_devices_by_filter(limit=200, sort="hostname.asc"))["resources"]
    states = ok(hosts.get_online_state(ids=ids[:100]))["resources"]
    return [s["id"] for s in states if s["state"] == state][:count]


def test_session_and_read_only_command(auth):
    rtr = RealTimeResponse(auth_object=auth)
    aid = hosts_by_state(auth, "online", 1)[0]
    session = ok(rtr.init_session(device_id=aid), 201)["resources"][0]
    sid = session["session_id"]
    sent = ok(rtr.execute_command(base_command="ls", command_string="ls", session_id=sid), 201)
    request_id = sent["resources"][0]["cloud_request_id"]
    status = ok(rtr.check_command_status(cloud_request_id=request_id, sequence_id=0))
    assert status["resources"][0]["complete"] and status["resources"][0]["stdout"]
    denied = rtr.execute_command(base_command="rm", command_string="rm x", session_id=sid)
    assert denied["status_code"] == 400
    active = rtr.execute_active_responder_command(base_command="mkdir",
                                                  command_string="mkdir tmp", session_id=sid)
    assert active["status_code"] == 201
    assert sid in ok(rtr.list_all_sessions())["resources"]
    assert rtr.delete_session(session_id=sid)["status_code"] == 204


def test_offline_hosts_fail_per_host(auth):
    rtr = RealTimeResponse(auth_object=auth)
    offline = hosts_by_state(auth, "offline", 2)
    answer = rtr.batch_init_sessions(host_ids=offline)
    assert answer["status_code"] == 404
    body = answer["body"]
    assert body["errors"][0]["message"] == "no successful hosts initialized on RTR"
    assert body["resources"][offline[0]]["errors"][0]["code"] == 40407
    queued = ok(rtr.init_session(device_id=offline[0], queue_offline=True), 201)
    assert queued["resources"][0]["offline_queued"] is True
    sid = queued["resources"][0]["session_id"]
    sent = ok(rtr.execute_command(base_command="ps", command_string="ps", session_id=sid), 201)
    assert sent["resources"][0]["queued_command_offline"] is True
    request_id = sent["resources"][0]["cloud_request_id"]
    status = ok(rtr.check_command_status(cloud_request_id=request_id, sequence_id=0))
    assert status["resources"][0]["complete"] is False


def test_batch_command(auth):
    rtr = RealTimeResponse(auth_object=auth)
    online = hosts_by_state(auth, "online", 3)
    batch = ok(rtr.batch_init_sessions(host_ids=online), 201)
    result = ok(rtr.batch_command(batch_id=batch["batch_id"], base_command="ps",
                                  command_string="ps"), 201)
    per_host = result["combined"]["resources"]
    assert set(per_host) == set(online)
    assert all(r["complete"] and r["stdout"] for r in per_host.values())


def test_admin_scripts(auth):
    admin = RealTimeResponseAdmin(auth_object=auth)
    ok(admin.create_scripts(name="hello.ps1", content="Write-Output 'hallo Welt'",
                            description="greeting", permission_type="private",
                            platform="windows"))
    ids = ok(admin.list_scripts())["resources"]
    script = ok(admin.get_scripts(ids=ids))["resources"][0]
    assert script["name"] == "hello.ps1"
    duplicate = admin.create_scripts(name="hello.ps1", content="x", description="again")
    assert duplicate["status_code"] == 409
    rtr = RealTimeResponse(auth_object=auth)
    aid = hosts_by_state(auth, "online", 1)[0]
    sid = ok(rtr.init_session(device_id=aid), 201)["resources"][0]["session_id"]
    run = ok(admin.execute_admin_command(base_command="runscript", session_id=sid,
                                         command_string='runscript -CloudFile="hello.ps1"'), 201)
    request_id = run["resources"][0]["cloud_request_id"]
    status = ok(admin.check_admin_command_status(cloud_request_id=request_id, sequence_id=0))
    assert "hello.ps1" in status["resources"][0]["stdout"]
    line = 'runscript -CloudFile="hello.ps1" -CommandLine="-Name \'Welt\' -Count 2"'
    run = ok(admin.execute_admin_command(base_command="runscript", session_id=sid,
                                         command_string=line), 201)
    request_id = run["resources"][0]["cloud_request_id"]
    status = ok(admin.check_admin_command_status(cloud_request_id=request_id, sequence_id=0))
    stdout = status["resources"][0]["stdout"]
    assert "hello.ps1" in stdout and "-Name 'Welt' -Count 2" in stdout
    ok(admin.delete_scripts(ids=ids[0]))


def test_put_files(auth):
    admin = RealTimeResponseAdmin(auth_object=auth)
    upload = [("file", ("tool.exe", b"MZ\x90\x00 pretend binary", "application/octet-stream"))]
    ok(admin.create_put_files(files=upload, description="a tool", name="tool.exe",
                              comments_for_audit_log="for the test"))
    ids = ok(admin.list_put_files())["resources"]
    found = ok(admin.get_put_files(ids=ids))["resources"]
    assert found[0]["name"] == "tool.exe" and found[0]["size"] > 0
    again = admin.create_put_files(files=upload, description="a tool", name="tool.exe")
    assert again["status_code"] == 409
    ok(admin.delete_put_files(ids=ids[0]))
    assert admin.delete_put_files(ids=ids[0])["status_code"] == 404


def test_batch_tiers_refresh_and_pulse(auth):
    rtr = RealTimeResponse(auth_object=auth)
    admin = RealTimeResponseAdmin(auth_object=auth)
    online = hosts_by_state(auth, "online", 2)
    batch_id = ok(rtr.batch_init_sessions(host_ids=online), 201)["batch_id"]
    refreshed = ok(rtr.batch_refresh_sessions(batch_id=batch_id), 201)["resources"]
    assert set(refreshed) == set(online)
    active = ok(rtr.batch_active_responder_command(batch_id=batch_id, base_command="mkdir",
                                                   command_string="mkdir x"), 201)
    assert all(r["complete"] for r in active["combined"]["resources"].values())
    ran = ok(admin.batch_admin_command(batch_id=batch_id, base_command="run",
                                       command_string="run tool.exe"), 201)
    assert len(ran["combined"]["resources"]) == 2
    denied = rtr.batch_command(batch_id=batch_id, base_command="put", command_string="put x")
    assert denied["status_code"] == 400
    pulsed = ok(rtr.pulse_session(device_id=online[0]), 201)["resources"][0]
    sessions = ok(rtr.list_sessions(ids=[pulsed["session_id"]]))["resources"]
    assert sessions[0]["device_id"] == online[0]


def test_sub_commands_by_command_or_verb(auth):
    rtr = RealTimeResponse(auth_object=auth)
    windows = [h for h in hosts_by_state(auth, "online", 20)]
    hosts = Hosts(auth_object=auth)
    details = ok(hosts.get_device_details(ids=windows))["resources"]
    aid = next(d["device_id"] for d in details if d["platform_name"] == "Windows")
    sid = ok(rtr.init_session(device_id=aid), 201)["resources"][0]["session_id"]
    for base in ("reg", "reg query"):
        sent = ok(rtr.execute_command(base_command=base, session_id=sid,
                                      command_string="reg query HKLM\\SOFTWARE"), 201)
        request_id = sent["resources"][0]["cloud_request_id"]
        status = ok(rtr.check_command_status(cloud_request_id=request_id, sequence_id=0))
        assert "CrowdStrike" in status["resources"][0]["stdout"]
    sent = ok(rtr.execute_command(base_command="eventlog view", session_id=sid,
                                  command_string="eventlog view System"), 201)
    denied = rtr.execute_command(base_command="reg", session_id=sid,
                                 command_string="reg set HKLM\\x v")
    assert denied["status_code"] == 400
    batch = ok(rtr.batch_init_sessions(host_ids=[aid, "f" * 32]), 201)
    assert batch["resources"]["f" * 32]["errors"][0]["code"] == 404
