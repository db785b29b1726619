// Progressive enhancement only: every page works without this file.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var button = event.submitter;
  var question = button && button.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); return; }
  // A second tap must not post twice (the server is idempotent anyway).
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
});
document.addEventListener("click", function (event) {
  if (event.target.matches("[data-back]")) { event.preventDefault(); history.back(); }
});
document.querySelectorAll("time[datetime]").forEach(function (node) {
  var when = new Date(node.getAttribute("datetime"));
  if (!isNaN(when)) { node.textContent = when.toLocaleString(); }
});
