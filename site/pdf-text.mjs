// The text of a PDF, read by Mozilla's pdf.js in its own worker; called from Python
// (pyapp/ui/documents_panel.py), which keeps every rule about what it accepts (pyapp/documents/pdf.py).
//
// pdf.js (about 1.9 MB) loads with the first PDF, not at boot. This never throws: it answers
// {status, pages, complete, detail} with status "ok" | "encrypted" | "unreadable" | "no-reader",
// plain values that cross the FFI as they are.

const PDFJS = new URL("vendor/pdfjs/", import.meta.url);
let loading = null;

function loadPdfjs() {
  if (loading === null) {
    loading = import(new URL("pdf.min.mjs", PDFJS).href).then((pdfjs) => {
      pdfjs.GlobalWorkerOptions.workerSrc = new URL("pdf.worker.min.mjs", PDFJS).href;
      return pdfjs;
    });
    loading.catch(() => { loading = null; }); // a failed load (offline, not cached yet) may be retried
  }
  return loading;
}

function answer(status, { pages = [], complete = true, detail = "" } = {}) {
  return { status, pages, complete, detail };
}

function pageText(content) {
  return content.items.map((item) => (item.str ?? "") + (item.hasEOL ? "\n" : "")).join("");
}

// Reads pages in order and stops once more than maxChars were read: such a document is refused
// anyway, and a huge PDF should not keep the worker busy for nothing (complete: false says so).
export async function pdfText(file, { maxChars }) {
  let pdfjs;
  try {
    pdfjs = await loadPdfjs();
  } catch (err) {
    return answer("no-reader", { detail: String(err?.message || err) });
  }
  const task = pdfjs.getDocument({
    data: new Uint8Array(await file.arrayBuffer()),
    // Text only: no fonts for drawing, no image decoders; nothing is fetched but the worker.
    disableFontFace: true,
    useSystemFonts: false,
    useWasm: false,
  });
  try {
    const doc = await task.promise;
    const pages = [];
    let nChars = 0;
    for (let number = 1; number <= doc.numPages && nChars <= maxChars; number += 1) {
      const page = await doc.getPage(number);
      const text = pageText(await page.getTextContent());
      page.cleanup();
      pages.push(text);
      nChars += text.length;
    }
    return answer("ok", { pages, complete: nChars <= maxChars });
  } catch (err) {
    if (err?.name === "PasswordException") return answer("encrypted");
    return answer("unreadable", { detail: String(err?.message || err) });
  } finally {
    await task.destroy();
  }
}
