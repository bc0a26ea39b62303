/**
 * The cdktf app entry (cdktf.json's `app`): synthesizes every stage into cdktf.out. `npm run synth`
 * runs the same app with progress and timing; this file serves tools that expect a cdktf app.
 */
import { resolve } from "node:path";
import { ARTIFACTS, SYNTH_DIR } from "../functions/contract.js";
import { stagesApp } from "./app.js";

const { app } = stagesApp({
  distDir: resolve(ARTIFACTS.dir),
  outdir: process.env.CDKTF_OUTDIR ?? resolve(SYNTH_DIR),
});
app.synth();
