// The interactive API page: Swagger UI (served by us, no internet needed) on /openapi.json.
// ROOT: "" here, "/c3" behind a proxy that serves the API under /c3 (X-Forwarded-Prefix);
// "Try it out" requests get it too (the document names no server, so they would go to "/").
const ROOT = location.pathname.replace(/\/docs\/?$/, "");
function underRoot(request) {
  const url = new URL(request.url, location.href);
  if (ROOT && url.origin === location.origin && !url.pathname.startsWith(ROOT + "/")) {
    url.pathname = ROOT + url.pathname;
    request.url = url.toString();
  }
  return request;
}
window.ui = SwaggerUIBundle({
  url: ROOT + "/openapi.json",
  requestInterceptor: underRoot,
  dom_id: "#swagger-ui",
  deepLinking: true,
  tryItOutEnabled: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: "StandaloneLayout",
});
