// The lab's page, live: steps and checks without leaving the page (the terminals stay
// open), a terminal per node (xterm.js, loaded on first use), the node's log as it is
// written, and the packets as they are captured. Plain browser JavaScript, no build.
(function () {
  "use strict";
  var announce = document.getElementById("announce");

  function say(text) {  // one polite announcement for what the user asked for, never for updates
    if (!announce) return;
    announce.textContent = "";
    window.setTimeout(function () { announce.textContent = text; }, 50);
  }

  // -- steps and checks: a form whose answer is a fragment of this page ---------------
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || !form.dataset.fragment || !window.fetch) return;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    var target = document.getElementById(form.dataset.fragment);
    fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form)),
                        credentials: "same-origin", headers: {"x-labctl-fragment": "1"}})
      .then(function (reply) {
        if (reply.redirected || !reply.ok) throw new Error("HTTP " + reply.status);
        return reply.text();
      })
      .then(function (html) {
        target.innerHTML = html;
        var passed = target.querySelectorAll(".pass").length;
        var failed = target.querySelectorAll(".fail, .error").length;
        say(form.dataset.announce + ": " + (failed ? "not passed" : passed ? "passed" : "done"));
      })
      .catch(function (error) {
        target.innerHTML = "";
        var p = document.createElement("p");
        p.className = "error";
        p.textContent = "That did not work (" + error.message + "): reload the page.";
        target.appendChild(p);
        say(form.dataset.announce + ": did not work");
      })
      .then(function () {
        if (button) {
          button.disabled = false;
          if (button.dataset.label) button.textContent = button.dataset.label;
        }
      });
  });

  // -- terminals --------------------------------------------------------------------
  var terms = document.getElementById("terminals");
  window.labctlTerminals = {};  // node -> xterm Terminal (the browser tests read them)
  var xtermLoading = null, tabCount = 0, perNode = {};

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src; s.onload = resolve; s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  function loadXterm() {
    if (!xtermLoading) {
      var v = "?v=" + terms.dataset.xterm;
      var css = document.createElement("link");
      css.rel = "stylesheet"; css.href = "/web/static/xterm/xterm.css" + v;
      document.head.appendChild(css);
      xtermLoading = loadScript("/web/static/xterm/xterm.js" + v).then(function () {
        return loadScript("/web/static/xterm/fit.js" + v);
      });
    }
    return xtermLoading;
  }

  function shellURL(node) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + "/web/labs/" + encodeURIComponent(terms.dataset.lab) +
      "/nodes/" + encodeURIComponent(node) + "/shell" + terms.dataset.q;
  }

  function selectTab(tab, stay) {  // stay: keyboard focus stays where it is
    var tabs = document.querySelectorAll("#terminal-tabs [role=tab]");
    for (var i = 0; i < tabs.length; i++) {
      var on = tabs[i] === tab;
      tabs[i].setAttribute("aria-selected", on ? "true" : "false");
      tabs[i].tabIndex = on ? 0 : -1;
      document.getElementById(tabs[i].getAttribute("aria-controls")).hidden = !on;
    }
    if (tab && tab.labctlOpen) tab.labctlOpen(stay);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    document.execCommand("copy"); document.body.removeChild(area);
    return Promise.resolve();
  }

  function openTerminal(node) {
    loadXterm().then(function () {
      var n = ++tabCount, id = "terminal-" + n;
      var tab = document.createElement("button");
      tab.type = "button"; tab.setAttribute("role", "tab"); tab.id = id + "-tab";
      tab.setAttribute("aria-controls", id); tab.className = "tab";
      perNode[node] = (perNode[node] || 0) + 1;  // client, client (2), ...
      tab.textContent = node + (perNode[node] > 1 ? " (" + perNode[node] + ")" : "");
      document.getElementById("terminal-tabs").appendChild(tab);

      var panel = document.createElement("div");
      panel.id = id; panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id); panel.className = "terminal-panel";
      var bar = document.createElement("div"); bar.className = "terminal-bar";
      var state = document.createElement("span"); state.className = "muted"; state.textContent = "connecting…";
      var copy = document.createElement("button"); copy.type = "button"; copy.className = "secondary small"; copy.textContent = "Copy";
      var paste = document.createElement("button"); paste.type = "button"; paste.className = "secondary small"; paste.textContent = "Paste";
      var close = document.createElement("button"); close.type = "button"; close.className = "secondary small"; close.textContent = "Close " + tab.textContent;
      close.id = "close-" + id;
      bar.appendChild(state); bar.appendChild(copy); bar.appendChild(paste); bar.appendChild(close);
      var screen = document.createElement("div"); screen.className = "terminal-screen";
      panel.appendChild(bar); panel.appendChild(screen);
      document.getElementById("terminal-panels").appendChild(panel);

      var term = new window.Terminal({cursorBlink: true, fontSize: 14, scrollback: 3000,
        fontFamily: "ui-monospace, 'DejaVu Sans Mono', monospace",
        theme: {background: "#1b1b1b", foreground: "#f0f0f0"}});
      var fit = new window.FitAddon.FitAddon();
      term.loadAddon(fit);
      term.open(screen);
      var key = window.labctlTerminals[node] ? node + "-" + n : node;
      window.labctlTerminals[key] = term;
      var socket = new WebSocket(shellURL(node));
      socket.binaryType = "arraybuffer";
      var encoder = new TextEncoder(), ended = false;

      function sendSize() {
        try { fit.fit(); } catch (e) { /* hidden: sized when shown */ }
        if (socket.readyState === 1) socket.send(JSON.stringify({rows: term.rows, cols: term.cols}));
      }
      function end(text) {
        if (ended) return;
        ended = true; state.textContent = text;
        term.write("\r\n\x1b[2m[" + text + "]\x1b[0m\r\n");
      }
      socket.onopen = function () { state.textContent = "connected"; sendSize(); term.focus(); };
      socket.onmessage = function (event) {
        if (typeof event.data === "string") {
          var message = JSON.parse(event.data);
          end("exit" in message ? "the shell ended (exit " + message.exit + ")" : message.error);
        } else {
          var bytes = new Uint8Array(event.data);
          if (term.writeUtf8) term.writeUtf8(bytes); else term.write(bytes);
        }
      };
      socket.onclose = function () { end("disconnected"); };
      term.onData(function (data) { if (socket.readyState === 1) socket.send(encoder.encode(data)); });
      term.onResize(function () {
        if (socket.readyState === 1) socket.send(JSON.stringify({rows: term.rows, cols: term.cols}));
      });
      term.attachCustomKeyEventHandler(function (e) {
        if (e.type !== "keydown") return true;
        if (e.ctrlKey && e.shiftKey && e.code === "KeyC") { copyText(term.getSelection()); return false; }
        if (e.ctrlKey && e.shiftKey && e.code === "KeyV") { doPaste(); return false; }
        if (e.shiftKey && e.key === "Tab") { e.preventDefault(); tab.focus(); return false; }
        return true;
      });
      function doPaste() {
        if (navigator.clipboard && navigator.clipboard.readText) {
          navigator.clipboard.readText().then(function (text) { term.paste(text); term.focus(); });
        }
      }
      copy.onclick = function () { copyText(term.getSelection()); term.focus(); };
      paste.onclick = doPaste;
      close.onclick = function () {
        ended = true;
        socket.close();  // the server ends the shell and everything it started
        term.dispose();
        delete window.labctlTerminals[key];
        var next = tab.previousElementSibling || tab.nextElementSibling;
        tab.remove(); panel.remove();
        if (next) { selectTab(next, true); next.focus(); }
        else document.getElementById("open-terminal-" + node).focus();
      };
      tab.labctlOpen = function (stay) {
        window.setTimeout(function () { sendSize(); if (!stay) term.focus(); }, 0);
      };
      tab.onclick = function () { selectTab(tab); };
      tab.onkeydown = function (e) {
        var tabs = Array.prototype.slice.call(document.querySelectorAll("#terminal-tabs [role=tab]"));
        var i = tabs.indexOf(tab), to = null;
        if (e.key === "ArrowRight") to = tabs[(i + 1) % tabs.length];
        if (e.key === "ArrowLeft") to = tabs[(i - 1 + tabs.length) % tabs.length];
        if (to) { e.preventDefault(); to.focus(); selectTab(to, true); }
      };
      if (window.ResizeObserver) new ResizeObserver(function () { if (!panel.hidden) sendSize(); }).observe(screen);
      selectTab(tab);
    }).catch(function () { say("The terminal could not be loaded."); });
  }

  if (terms && terms.dataset.xterm) {
    var openers = terms.querySelectorAll("[data-node]");
    for (var i = 0; i < openers.length; i++) {
      openers[i].addEventListener("click", function (event) { openTerminal(event.currentTarget.dataset.node); });
    }
  }

  // -- the node's log, followed --------------------------------------------------------
  var logs = document.getElementById("logs"), logControl = null;
  var LOG_KEEP = 100000;  // characters kept on the page

  function followLog() {
    if (logControl) logControl.abort();
    var node = document.getElementById("logs-node").value;
    var text = document.getElementById("log-text"), state = document.getElementById("logs-state");
    text.textContent = ""; state.textContent = "following " + node;
    if (!window.AbortController || !window.ReadableStream) return;
    var control = logControl = new AbortController();
    fetch(logs.dataset.base + encodeURIComponent(node) + "/logs" + logs.dataset.q,
          {credentials: "same-origin", signal: control.signal})
      .then(function (reply) {
        if (!reply.ok) throw new Error("HTTP " + reply.status);
        var reader = reply.body.getReader(), decoder = new TextDecoder();
        function more() {
          return reader.read().then(function (part) {
            if (part.done) { state.textContent = node + ": the log ended"; return; }
            var atEnd = text.scrollTop + text.clientHeight >= text.scrollHeight - 4;
            var all = text.textContent + decoder.decode(part.value, {stream: true});
            text.textContent = all.length > LOG_KEEP ? all.slice(-LOG_KEEP) : all;
            if (atEnd) text.scrollTop = text.scrollHeight;
            return more();
          });
        }
        return more();
      })
      .catch(function (error) {
        if (error.name !== "AbortError") state.textContent = node + ": " + error.message;
      });
  }

  if (logs && document.getElementById("logs-node")) {
    document.getElementById("logs-node").addEventListener("change", followLog);
    followLog();
  }

  // -- packets as they are captured ------------------------------------------------------
  var packets = document.getElementById("packets"), source = null, total = 0;
  var LINES_KEPT = 300, LADDERS_KEPT = 6;

  function watchPackets() {
    if (source) source.close();
    var node = document.getElementById("packets-node").value;
    var state = document.getElementById("packets-state");
    var ladders = document.getElementById("ladders"), list = document.getElementById("packet-lines");
    ladders.textContent = ""; list.textContent = ""; total = 0;
    document.getElementById("packet-count").textContent = "0";
    var url = packets.dataset.url + (packets.dataset.url.indexOf("?") < 0 ? "?" : "&") +
      "node=" + encodeURIComponent(node);
    source = new EventSource(url);
    source.addEventListener("hello", function () { state.textContent = "live on " + node + ": waiting for packets"; });
    source.addEventListener("packets", function (event) {
      var data = JSON.parse(event.data);
      for (var i = 0; i < data.lines.length; i++) {
        var li = document.createElement("li");
        li.textContent = data.lines[i];
        list.appendChild(li);
      }
      while (list.childNodes.length > LINES_KEPT) list.removeChild(list.firstChild);
      total = data.total;
      document.getElementById("packet-count").textContent = String(total);
      state.textContent = "live on " + node + ": " + total + " packets";
    });
    source.addEventListener("ladder", function (event) {
      var data = JSON.parse(event.data), id = "live-conn-" + data.conn;
      var figure = document.getElementById(id);
      if (!figure) {
        figure = document.createElement("figure");
        figure.id = id; figure.className = "ladder";
        figure.innerHTML = "<figcaption></figcaption><div class='scroll' role='region' tabindex='0'></div>";
        ladders.insertBefore(figure, ladders.firstChild);  // the newest first
        while (ladders.childNodes.length > LADDERS_KEPT) ladders.removeChild(ladders.lastChild);
      }
      // drawn by the server (labctl/trace/views.py), every text escaped there; the
      // figure and its region stay, so keyboard focus in them survives the redraw
      figure.firstChild.textContent = data.headline + (data.more ? " (" + data.more + " more segments in the trace)" : "");
      figure.lastChild.setAttribute("aria-label", "Ladder of connection " + data.conn);
      figure.lastChild.innerHTML = data.svg;
    });
    source.addEventListener("note", function (event) { state.textContent = JSON.parse(event.data).text; });
    source.addEventListener("end", function () { state.textContent = "the capture ended"; source.close(); });
    source.onerror = function () { state.textContent = "reconnecting…"; };
  }

  if (packets) {
    document.getElementById("packets-node").addEventListener("change", watchPackets);
    watchPackets();
  }
})();
