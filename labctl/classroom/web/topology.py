"""A lab's topology as a server-drawn SVG: its nodes, its networks, and each node's
address (IP and MAC) on each network it joins. From the lab file alone before `up`
(addresses are given then); with the running nodes' addresses after."""

from __future__ import annotations

from html import escape

from labctl.lab import model

BOX_W, BOX_H, GAP, TOP = 150, 54, 36, 20
NET_GAP, LABEL_W = 74, 150


def svg(lab: model.Lab, running: list[dict]) -> str:
    """`running` are the public nodes of this lab instance (empty when it is down)."""
    names = list(lab.nodes)
    nets = list(lab.networks)
    found = {n["node"]: n for n in running}
    width = max(len(names) * (BOX_W + GAP) + GAP, LABEL_W + 2 * GAP + BOX_W)
    nets_top = TOP + BOX_H + 60
    height = nets_top + NET_GAP * len(nets)
    x_of = {name: GAP + i * (BOX_W + GAP) for i, name in enumerate(names)}
    title = f"Topology of {lab.name}: " + "; ".join(
        f"{node} on {', '.join(lab.nodes[node].network_names)}" for node in names)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-labelledby="topology-title" '
           'class="topology" font-family="system-ui, sans-serif" font-size="13">',
           f'<title id="topology-title">{escape(title)}</title>']
    for i, net in enumerate(nets):
        y = nets_top + i * NET_GAP
        subnet = lab.networks[net].subnet
        out.append(f'<line x1="8" y1="{y}" x2="{width - 8}" y2="{y}" stroke="#0b57d0" '
                   'stroke-width="6" stroke-linecap="round"/>')
        out.append(f'<text x="12" y="{y + 22}" fill="#0b3d91" font-weight="600">network '
                   f'{escape(net)}{" " + escape(subnet) if subnet else ""}</text>')
    for name in names:
        x, node = x_of[name], lab.nodes[name]
        info = found.get(name)
        services = ", ".join(f"{s.kind} {s.proto}/{s.port}" for s in node.services)
        out.append(f'<rect x="{x}" y="{TOP}" width="{BOX_W}" height="{BOX_H}" rx="8" '
                   'fill="#f1f3f6" stroke="#1b1b1b"/>')
        out.append(f'<text x="{x + BOX_W / 2}" y="{TOP + 22}" text-anchor="middle" '
                   f'font-weight="700" font-size="15">{escape(name)}</text>')
        if services:
            out.append(f'<text x="{x + BOX_W / 2}" y="{TOP + 42}" text-anchor="middle" '
                       f'fill="#444">{escape(services)}</text>')
        for net in node.network_names:
            y = nets_top + nets.index(net) * NET_GAP
            cx = x + BOX_W / 2
            out.append(f'<line x1="{cx}" y1="{TOP + BOX_H}" x2="{cx}" y2="{y}" '
                       'stroke="#1b1b1b" stroke-width="2"/>')
            ip = mac = ""
            if info is not None:
                ip = (info.get("addresses") or {}).get(net) or (
                    info["ip"] if net == node.network_names[0] else "")
                mac = (info.get("macs") or {}).get(net) or (
                    info["mac"] if net == node.network_names[0] else "")
            label = ip or ("address at up" if info is None else "")
            out.append(f'<text x="{cx + 6}" y="{y - 26}" font-family="ui-monospace, '
                       f'monospace" font-size="12">{escape(label)}</text>')
            if mac:
                out.append(f'<text x="{cx + 6}" y="{y - 10}" font-family="ui-monospace, '
                           f'monospace" font-size="11" fill="#444">{escape(mac)}</text>')
    out.append("</svg>")
    return "\n".join(out)
