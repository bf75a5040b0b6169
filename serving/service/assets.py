"""The dashboard's stylesheet and its one script, served by the app (no CDN, no inline code:
the pages run under `default-src 'self'`)."""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
nav { background: #16324f; padding: .6rem 1rem; }
nav a, nav .who { color: #fff; margin-right: 1rem; text-decoration: none; }
nav .who { float: right; opacity: .8; }
main { padding: 1rem 2rem; max-width: 72rem; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.error { color: #b00020; }
form.run label, form.pick label { display: inline-block; margin: .3rem 1rem .3rem 0; }
form.run input { width: 6rem; }
svg.chart { display: block; margin: .5rem 0 1rem; max-width: 100%; height: auto; }
"""

JOB_JS = """
(function () {
  var box = document.getElementById("job");
  if (!box) { return; }
  var id = box.getAttribute("data-id"), then = box.getAttribute("data-then");
  function poll() {
    fetch("/v1/jobs/" + encodeURIComponent(id), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (job) {
        document.getElementById("status").textContent = job.status;
        document.getElementById("progress").textContent = job.progress || "";
        if (job.status === "done") {
          if (then) { window.location.assign(then); }
          return;
        }
        if (job.status === "failed" || job.status === "cancelled") {
          document.getElementById("error").textContent = job.error || job.status;
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})();
"""
