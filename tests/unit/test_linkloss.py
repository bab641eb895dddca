"""Host-side link loss: the nftables text, finding a node's veth, pruning stale rules."""

import json

from fakelab import up

from labctl.runtime import link_loss as linkloss
from labctl.runtime.host_guard import Host

RULE = ('\t\toifname "{veth}" ether type {{ ip, ip6 }} numgen random mod 1000000 < 100000 '
        'counter packets 3 bytes 9 drop comment "labctl a/loss-lab/server lan" # handle {h}\n')
LISTING = ("table bridge labctl_links {\n\tchain forward { # handle 1\n"
           "\t\ttype filter hook forward priority -10; policy accept;\n"
           + RULE.format(veth="vethaaa", h=3) + RULE.format(veth="vethbbb", h=4) + "\t}\n}\n")


def test_the_rule_drops_that_share_of_frames_towards_the_node():
    text = linkloss.script("veth1", 2.5, "labctl i/lab/server lan")
    assert "add table bridge labctl_links" in text
    assert "hook forward" in text
    assert ('oifname "veth1" ether type { ip, ip6 } numgen random mod 1000000 < 25000 counter '
            'drop comment "labctl i/lab/server lan"') in text


def test_only_rules_of_removed_nodes_are_pruned():
    assert linkloss.stale_handles(LISTING, {"lo", "vethbbb"}) == [3]
    assert linkloss.stale_handles(LISTING, {"vethaaa", "vethbbb"}) == []


def test_only_the_bridges_own_ports_are_candidates(tmp_path):
    for name, index in (("lo", 1), ("veth9abd1ca", 8233), ("vethother", 8240)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "ifindex").write_text(f"{index}\n")
    (tmp_path / "lc-abc" / "brif").mkdir(parents=True)
    (tmp_path / "lc-abc" / "brif" / "veth9abd1ca").mkdir()
    assert linkloss.bridge_ports("lc-abc", tmp_path) == {8233: "veth9abd1ca"}
    assert linkloss.bridge_ports("lc-gone", tmp_path) == {}


def test_only_engine_made_veths_count_whatever_the_node_adds():
    """A node may add interfaces (a dummy of any index, a veth pair of its own) and move
    its address: only a veth whose peer is outside its namespace is the engine's."""
    listing = json.dumps([
        {"ifindex": 1, "ifname": "lo"},
        {"ifindex": 8233, "ifname": "fake", "linkinfo": {"info_kind": "dummy"}},
        {"ifindex": 40, "ifname": "v0", "link_index": 41, "linkinfo": {"info_kind": "veth"}},
        {"ifindex": 2, "ifname": "eth0", "link": None, "link_index": 8240,
         "link_netnsid": 0, "linkinfo": {"info_kind": "veth"}}])
    assert linkloss.engine_made_links(listing) == {8240: "eth0"}
    assert linkloss.engine_made_links("not json") == {}


def test_only_as_root_with_nft_next_to_the_engine():
    host = Host(root=True, nft="/usr/sbin/nft", local_engine=True, boot_id="b", engine="e",
                marker=None)
    assert linkloss.available(host)
    assert not linkloss.available(Host(False, "/usr/sbin/nft", True, "b", "e", None))
    assert not linkloss.available(Host(True, "/usr/sbin/nft", False, "b", "e", None))


def test_up_asks_the_runtime_to_place_each_lossy_link():
    engine, _, _ = up("name: l\nnodes:\n  server:\n    links: {lan: {loss_percent: 10}}\n"
                      "  client: {}\n")
    assert [c for c in engine.runtime.calls if c[0] == "place_link_loss"] == [
        ("place_link_loss", "labctl.t.l.server lan 10")]


def test_a_total_loss_is_a_plain_drop():
    """100% once asked for `numgen ... < 1000000`, which nft refuses (0-999999): the rule
    failed and the loss fell back into the node, where the capture shows every packet."""
    assert "numgen" not in linkloss.rule("vethX", 100, "c")
    assert linkloss.rule("vethX", 99.9999, "c").count("< 999999 ") == 1
