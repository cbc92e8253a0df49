// The account page's photo (web/templates/account/photo.html): a preview of the chosen photo before it is saved, and
// a large photo (a phone's are several MB) made smaller here, so it fits what the server takes. The server checks and
// re-encodes whatever it gets (identity/photos.py); without this script the form still works for small files.
const form = document.getElementById("photo-form");
const input = document.getElementById("f-photo");
const preview = document.getElementById("photo-preview");
const previewImage = document.getElementById("photo-preview-image");
const problem = document.getElementById("photo-problem");
const maxBytes = Number(form.dataset.maxBytes);
const side = Number(form.dataset.side);

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file); // a data: address (the page's CSP allows data: images, not blob:)
  });
}

function loadImage(source) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("unreadable"));
    image.src = source;
  });
}

// The picture at most `side` pixels a side, as a JPEG, trying lower qualities until it fits.
async function smaller(image) {
  const scale = Math.min(1, side / Math.max(image.naturalWidth, image.naturalHeight));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
  canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff"; // a transparent PNG on white, as the server does
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  for (const quality of [0.9, 0.8, 0.7, 0.5]) {
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
    if (blob && blob.size <= maxBytes) return blob;
  }
  return null;
}

async function chosen() {
  const file = input.files[0];
  problem.hidden = true;
  preview.hidden = true;
  if (!file) return;
  let image;
  try {
    image = await loadImage(await readAsDataUrl(file));
  } catch (error) {
    problem.textContent = form.dataset.textUnreadable;
    problem.hidden = false;
    return; // the server says so too, if it is sent anyway
  }
  if (file.size > maxBytes || Math.max(image.naturalWidth, image.naturalHeight) > side) {
    const blob = await smaller(image);
    if (blob && typeof DataTransfer !== "undefined") {
      const files = new DataTransfer();
      files.items.add(new File([blob], "photo.jpg", { type: "image/jpeg" }));
      input.files = files.files; // what the form sends from now on
      image = await loadImage(await readAsDataUrl(blob));
    }
  }
  previewImage.src = image.src;
  document.getElementById("photo-preview-caption").textContent = form.dataset.textPreview;
  previewImage.alt = form.dataset.textPreview;
  preview.hidden = false;
}

input.addEventListener("change", () => { chosen().catch(() => {}); });
