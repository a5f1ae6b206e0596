// MathJax settings for the notebooks' formulas: $...$ inline, $$...$$ on their own line.
// Code blocks are left alone (MathJax skips <pre> and <code>).
window.MathJax = {
  tex: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
  },
};
