// The "Summarize this page" bookmarklet. It runs inside the page the user is reading: it takes the
// selection, or else the page's main readable text, opens wordcalc in a new window and, once
// wordcalc says it is ready, hands the text over to that window only.
//
// build/bookmarklet.py fills the __NAMES__ from pyapp/documents/handoff.py and turns this file into
// a javascript: URL; the app page fills __WORDCALC_APP__ with its own address. It loads nothing and
// connects nowhere, so a page's Content-Security-Policy has nothing to block once it runs.
(() => {
  const APP = __WORDCALC_APP__;
  const APP_ORIGIN = new URL(APP).origin;
  const WAIT_MS = 180000;
  const SKIP = "nav, aside, footer, menu, dialog, button, script, style, noscript, template, svg, [hidden], [aria-hidden=true], [role=navigation], [role=complementary]";
  const BLOCKS = "h1, h2, h3, h4, h5, h6, p, li, pre, blockquote, dd, dt, td, th, figcaption";
  const say = (text) => window.alert(`wordcalc: ${text}`);
  // innerText leaves out what is not rendered (display: none, visibility: hidden, script, style).
  const textOf = (el) => (el.innerText || "").trim();
  const inside = (root, el) => el !== null && root.contains(el);

  // The element holding most paragraph text (each paragraph counts fully for its parent and half
  // for its grandparent), widened to its article or main landmark when it sits in one.
  function mainElement() {
    const scores = new Map();
    for (const p of document.documentElement.querySelectorAll("p, pre")) {
      if (p.closest(SKIP)) continue;
      const n = textOf(p).length;
      const parent = p.parentElement;
      scores.set(parent, (scores.get(parent) || 0) + n);
      if (parent.parentElement) scores.set(parent.parentElement, (scores.get(parent.parentElement) || 0) + n / 2);
    }
    let best = null;
    for (const [el, score] of scores) if (!best || score > scores.get(best)) best = el;
    if (best) return best.closest("article, main, [role=main]") || best;
    return document.querySelector("article, main, [role=main]") || document.body || document.documentElement;
  }

  function readableText() {
    const root = mainElement();
    const parts = [];
    for (const el of root.querySelectorAll(BLOCKS)) {
      if (inside(root, el.parentElement.closest(BLOCKS)) || inside(root, el.closest(SKIP))) continue;
      const text = textOf(el);
      if (text) parts.push(text);
    }
    const text = parts.join("\n\n");
    return text.length >= 200 ? text : textOf(root);
  }

  if (!/^https?:$/.test(location.protocol) || location.origin === "null") {
    say("it can only take text from web pages (http or https), not from this one.");
    return;
  }
  const text = (String(window.getSelection() || "").trim() || readableText()).slice(0, __MAX_TEXT_CHARS__);
  if (!text) {
    say("this page has no text to summarize. Select some text and try again.");
    return;
  }
  const target = new URL(APP);
  target.searchParams.set("from", __LAUNCH_PARAM__);
  target.searchParams.set("origin", location.origin);
  const win = window.open(target.href, "_blank");
  if (!win) {
    say("the new window was blocked. Allow pop-ups for this site, then click the bookmarklet again.");
    return;
  }
  const started = Date.now();
  let timer = 0;
  const onMessage = (event) => {
    const data = event.data;
    if (event.source !== win || event.origin !== APP_ORIGIN || !data || data.type !== __READY_TYPE__) return;
    stop();
    win.postMessage({
      type: __DOCUMENT_TYPE__,
      version: __PROTOCOL_VERSION__,
      title: document.title.slice(0, __MAX_TITLE_CHARS__),
      url: location.href.slice(0, __MAX_URL_CHARS__),
      text,
    }, APP_ORIGIN);
  };
  const stop = () => {
    window.removeEventListener("message", onMessage);
    clearInterval(timer);
  };
  window.addEventListener("message", onMessage);
  timer = setInterval(() => {
    // A page that sends Cross-Origin-Opener-Policy cuts the link to the new window at once: the
    // window then looks closed from here.
    if (win.closed) {
      stop();
      say("this page does not let wordcalc's window talk to it (or the window was closed). "
        + "Select the text, copy it and paste it into wordcalc instead.");
    } else if (Date.now() - started > WAIT_MS) {
      stop();
      say("wordcalc did not answer in time. Copy the text and paste it into wordcalc instead.");
    }
  }, 250);
})();
