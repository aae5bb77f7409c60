// Starts Swagger UI on /api/docs over the generated /api/openapi.json (a file, because the CSP allows no inline script).
(function () {
  "use strict";
  var root = document.getElementById("api-docs");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    // "Try it out" on a write sends the session cookie, so it needs the CSRF header; a bearer token (Authorize) does not.
    withCredentials: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
