"""An instructor's own testinfra tests: each node is a fixture by its name."""


def test_web_server_listens_on_all_ipv4_addresses(server):
    assert server.socket("tcp://0.0.0.0:80").is_listening


def test_client_has_curl_and_no_listening_web_server(client):
    assert client.exists("curl")
    assert not client.socket("tcp://0.0.0.0:80").is_listening


def test_server_page_reaches_the_client(client):
    page = client.check_output("curl -s --compressed http://server/")
    assert page == "<HTML><h1>Hello World!</h1></HTML>"
