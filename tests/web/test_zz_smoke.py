from tests.web.conftest import *  # noqa

def test_smoke(app, catalog, user_client):
    c = user_client
    r = c.get("/?q=交通")
    html = r.get_data(as_text=True)
    print(r.status_code)
    open("/tmp/search.html","w").write(html)
    assert r.status_code == 200
    r = c.get("/scenes/new?q=交通&f.region=杭州市")
    open("/tmp/new.html","w").write(r.get_data(as_text=True))
    assert r.status_code == 200, r.get_data(as_text=True)
    r = c.post("/scenes/new", data={"q": "交通", "f.region": "杭州市", "name": "t", "schedule": "daily", "timezone": "Asia/Shanghai", "webhook": "http://127.0.0.1:9/hook", "tracked_fields": ["title"]})
    assert r.status_code == 302, r.get_data(as_text=True)
    r = c.get(r.headers["Location"])
    open("/tmp/scene.html","w").write(r.get_data(as_text=True))
    assert "whsec_" in r.get_data(as_text=True)
    r = c.post("/scenes/1/run")
    print(r.status_code, r.headers.get("Location"))
    r = c.get(r.headers["Location"])
    open("/tmp/run.html","w").write(r.get_data(as_text=True))
    assert r.status_code == 200
    r = c.get("/scenes")
    assert r.status_code == 200
    r = c.get("/datasets/" + catalog[0]["id"])
    assert r.status_code == 200, r.get_data(as_text=True)
    open("/tmp/dataset.html","w").write(r.get_data(as_text=True))
