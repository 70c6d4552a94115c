/* app.js — the built-in page logic (placeholder). */
