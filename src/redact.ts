// Credentials never printed: URLs may carry them (https://user:pass@registry), and so do some knobs.

/** `scheme://user:password@host/...` → `scheme://***@host/...`: for logs and printed configuration. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1***@');
}
