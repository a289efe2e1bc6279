// Reports page: a changed report or breakdown shows at once (the form is a plain GET form).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("report-form");
  if (!form) return;
  for (const select of form.querySelectorAll("select[data-submit]")) {
    select.addEventListener("change", () => {
      if (select.name === "report") {
        // the new report's own breakdowns and filters: keep only the range
        for (const field of form.querySelectorAll("select, input")) {
          if (!["report", "from", "to"].includes(field.name)) field.disabled = true;
        }
      }
      form.submit();
    });
  }
});
