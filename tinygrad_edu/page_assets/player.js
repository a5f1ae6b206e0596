function player(count, show, label, start = 0) {
  const slider = document.getElementById("slider");
  const prev = document.getElementById("prev"), next = document.getElementById("next");
  const play = document.getElementById("play"), position = document.getElementById("position");
  let current = 0, timer = null;
  slider.max = count - 1;
  function go(k) {
    current = Math.max(0, Math.min(count - 1, k));
    slider.value = current;
    prev.disabled = current === 0;
    next.disabled = current === count - 1;
    position.textContent = label(current);
    show(current);
  }
  function stop() { clearInterval(timer); timer = null; play.textContent = "▶ play"; }
  prev.onclick = () => { stop(); go(current - 1); };
  next.onclick = () => { stop(); go(current + 1); };
  slider.oninput = () => { stop(); go(Number(slider.value)); };
  play.onclick = () => {
    if (timer) { stop(); return; }
    if (current === count - 1) go(0);
    play.textContent = "❚❚ pause";
    timer = setInterval(() => {
      go(current + 1);
      if (current === count - 1) stop();
    }, 600);
  };
  document.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") next.click();
    if (event.key === "ArrowLeft") prev.click();
  });
  go(start);
  return go;
}
const DATA = JSON.parse(document.getElementById("data").textContent);
