// Preloaded (node --require) into the jsii kernel process by tritonform/_node.py.
//
// The jsii kernel loads a package by requiring its "main" entry; for @cdktf/provider-aws that is
// lib/index.js, which requires all ~2,100 resource modules up front (about 3 s of a 5 s synth).
// The package also ships lib/lazy-index.js, the same exports as getters that require a module on
// first use. Resolving the package to that file leaves every export, and so the synthesized JSON,
// as it was; only the modules tritonform uses are compiled.
"use strict";

const Module = require("node:module");
const fs = require("node:fs");
const path = require("node:path");

const PACKAGE = "@cdktf/provider-aws";
const resolveFilename = Module._resolveFilename;

Module._resolveFilename = function resolveToLazyIndex(request, ...rest) {
  const resolved = resolveFilename.call(this, request, ...rest);
  if (request !== PACKAGE || path.basename(resolved) !== "index.js") {
    return resolved;
  }
  const lazy = path.join(path.dirname(resolved), "lazy-index.js");
  return fs.existsSync(lazy) ? lazy : resolved;
};
