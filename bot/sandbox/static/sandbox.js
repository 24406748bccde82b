// The sandbox page: one column per persona, each long-polling its chat on the page's backend.
"use strict";

const columns = document.getElementById("columns");
const template = document.getElementById("column-template");
let pointsPromise = null;

async function api(path, options = {}) {
  const response = await fetch(path, options);
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (_) { message = (await response.text()) || message; }
    throw new Error(message);
  }
  return response.json();
}

function postJson(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function loadPoints() {
  if (!pointsPromise) pointsPromise = api("api/points").catch(() => []);
  return pointsPromise;
}

class Column {
  constructor(persona) {
    this.persona = persona;
    this.version = "";
    this.answersSeen = null;
    this.root = template.content.firstElementChild.cloneNode(true);
    this.root.dataset.persona = persona.key;
    this.root.dataset.userId = persona.user_id;
    if (persona.rtl) this.root.dir = "rtl";
    if (persona.language) this.root.lang = persona.language;
    this.root.querySelector(".avatar").textContent = (persona.name || "?").trim().charAt(0).toUpperCase();
    this.root.querySelector(".persona-name").textContent = persona.name;
    const language = persona.language ? ` · Telegram in ${persona.language}` : "";
    this.root.querySelector(".persona-role").textContent = `${persona.role}${language} · id ${persona.user_id}`;
    this.messages = this.root.querySelector(".messages");
    this.replyKeyboard = this.root.querySelector(".reply-keyboard");
    this.toast = this.root.querySelector(".toast");
    this.picker = this.root.querySelector(".picker");
    this.input = this.root.querySelector(".text-input");
    this.wire();
    columns.appendChild(this.root);
    this.poll();
  }

  get base() { return `api/chats/${this.persona.user_id}`; }

  wire() {
    this.root.querySelector(".composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.input.value;
      if (!text.trim()) return;
      this.input.value = "";
      this.act("message", { text });
    });
    this.root.querySelector(".location-button").addEventListener("click", () => this.openPicker());
    this.root.querySelector(".close-picker").addEventListener("click", () => { this.picker.hidden = true; });
    this.root.querySelector(".points").addEventListener("change", (event) => {
      const [lat, lon] = event.target.value.split(",");
      this.picker.querySelector(".lat").value = lat || "";
      this.picker.querySelector(".lon").value = lon || "";
    });
    this.root.querySelector(".share-location").addEventListener("click", () => {
      const latitude = parseFloat(this.picker.querySelector(".lat").value);
      const longitude = parseFloat(this.picker.querySelector(".lon").value);
      if (Number.isNaN(latitude) || Number.isNaN(longitude)) { this.showToast("Pick a point or type coordinates"); return; }
      this.picker.hidden = true;
      this.act("location", { latitude, longitude });
    });
    const fileInput = this.root.querySelector(".file-input");
    this.root.querySelector(".attach-button").addEventListener("click", () => fileInput.click());
    fileInput.addEventListener("change", () => {
      const file = fileInput.files[0];
      if (!file) return;
      const form = new FormData();
      form.append("file", file, file.name);
      const caption = this.input.value;
      if (caption.trim()) { form.append("caption", caption); this.input.value = ""; }
      fileInput.value = "";
      this.send(api(`${this.base}/photo`, { method: "POST", body: form }));
    });
    this.messages.addEventListener("click", (event) => {
      const spoiler = event.target.closest(".tg-spoiler");
      if (spoiler) spoiler.classList.toggle("revealed");
    });
  }

  async openPicker() {
    const select = this.picker.querySelector(".points");
    if (!select.options.length) {
      select.appendChild(new Option("— choose a circle —", ""));
      for (const point of await loadPoints()) {
        select.appendChild(new Option(`${point.name} (${point.barrio})`, `${point.latitude},${point.longitude}`));
      }
    }
    this.picker.hidden = false;
  }

  act(kind, body) { return this.send(postJson(`${this.base}/${kind}`, body)); }

  async send(request) {
    try {
      await request;
    } catch (error) {
      this.showToast(`Not sent: ${error.message}`);
    }
    await this.refresh();
  }

  async refresh() {
    try { this.render(await api(this.base)); } catch (_) { /* the long poll reports trouble */ }
  }

  async poll() {
    for (;;) {
      try {
        const query = this.version ? `?version=${encodeURIComponent(this.version)}` : "";
        this.render(await api(this.base + query));
      } catch (error) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  render(chat) {
    this.version = chat.version;
    const atBottom = this.messages.scrollHeight - this.messages.scrollTop - this.messages.clientHeight < 40;
    const present = new Set();
    let appended = false;
    for (const message of chat.messages) {
      if (message.deleted) continue;
      const key = String(message.id);
      present.add(key);
      const signature = JSON.stringify(message);
      const existing = this.messages.querySelector(`:scope > .msg[data-message-id="${key}"]`);
      if (existing && existing.dataset.signature === signature) continue;
      const bubble = this.bubble(message, signature);
      if (existing) {
        existing.replaceWith(bubble);  // an edit stays where the message was
      } else {
        this.messages.appendChild(bubble);
        appended = true;
      }
    }
    for (const bubble of this.messages.querySelectorAll(":scope > .msg")) {
      if (!present.has(bubble.dataset.messageId)) bubble.remove();
    }
    this.renderReplyKeyboard(chat.messages);
    if (this.answersSeen === null) this.answersSeen = chat.answers.length;
    for (const answer of chat.answers.slice(this.answersSeen)) this.showToast(answer.text, answer.alert);
    this.answersSeen = chat.answers.length;
    // Follow new messages unless the user scrolled up to read older ones.
    if (appended && atBottom) this.messages.scrollTop = this.messages.scrollHeight;
  }

  bubble(message, signature) {
    const bubble = element("div", `msg ${message.from_bot ? "bot" : "user"} kind-${message.kind}`);
    bubble.dir = "auto";
    bubble.dataset.messageId = message.id;
    bubble.dataset.signature = signature;
    bubble.dataset.edits = message.edits;
    if (message.photo) {
      const image = element("img", "photo");
      image.src = message.photo;
      image.alt = "photo";
      bubble.appendChild(image);
    }
    if (message.document) {
      const link = element("a", "document", `📄 ${message.document.name}`);
      link.dir = "auto";
      link.href = message.document.url;
      link.download = message.document.name;
      if (message.document.size) link.title = `${message.document.size} bytes`;
      bubble.appendChild(link);
    }
    if (message.location) {
      const { latitude, longitude } = message.location;
      const place = element("div", "location", `📍 ${latitude.toFixed(5)}, ${longitude.toFixed(5)}`);
      place.dir = "ltr";
      bubble.appendChild(place);
    }
    // No dir of its own: the bubble's dir="auto" takes its direction from this text (elements with a dir
    // attribute, like the time below, are left out of that guess).
    const text = element("div", "text");
    text.innerHTML = message.html;  // made safe on the server: only Telegram's tags survive
    if (message.html) bubble.appendChild(text);
    if (message.keyboard === "inline" && message.buttons.length) bubble.appendChild(this.inlineKeyboard(message));
    const meta = element("div", "meta", message.edits ? "edited" : "");
    meta.dir = "auto";
    if (message.date) {
      const time = new Date(message.date * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      meta.textContent = message.edits ? `edited ${time}` : time;
    }
    bubble.appendChild(meta);
    return bubble;
  }

  inlineKeyboard(message) {
    const keyboard = element("div", "keyboard");
    for (const row of message.buttons) {
      const line = element("div", "row");
      for (const button of row) {
        if (button.url) {
          const link = element("a", "url-button", button.text);
          link.href = button.url;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
          link.dir = "auto";
          line.appendChild(link);
          continue;
        }
        const tap = element("button", "callback-button", button.text);
        tap.type = "button";
        tap.dir = "auto";
        if (button.callback_data !== undefined) tap.dataset.callback = button.callback_data;
        tap.addEventListener("click", () => {
          if (button.callback_data !== undefined) this.act("callback", { message_id: message.id, data: button.callback_data });
        });
        line.appendChild(tap);
      }
      keyboard.appendChild(line);
    }
    return keyboard;
  }

  renderReplyKeyboard(messages) {
    // Telegram shows the newest reply keyboard until a message removes it.
    let keyboard = null;
    for (const message of messages) {
      if (!message.from_bot || message.deleted) continue;
      if (message.keyboard === "reply") keyboard = message;
      else if (message.remove_keyboard) keyboard = null;
    }
    const signature = keyboard ? JSON.stringify(keyboard.buttons) : "";
    if (this.replyKeyboard.dataset.signature === signature) return;
    this.replyKeyboard.dataset.signature = signature;
    this.replyKeyboard.replaceChildren();
    if (!keyboard) return;
    for (const row of keyboard.buttons) {
      const line = element("div", "row");
      for (const button of row) {
        const key = element("button", "reply-button", button.text);
        key.type = "button";
        key.dir = "auto";
        key.addEventListener("click", () => {
          if (button.request_location) this.openPicker();
          else this.act("message", { text: button.text });
        });
        line.appendChild(key);
      }
      this.replyKeyboard.appendChild(line);
    }
  }

  showToast(text, alert = false) {
    if (!text) return;
    this.toast.textContent = text;
    this.toast.dir = "auto";
    this.toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { this.toast.hidden = true; }, alert ? 6000 : 3000);
  }
}

document.getElementById("add-persona").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    const persona = await postJson("api/personas", { name: form.name.value, language: form.language.value });
    if (!document.querySelector(`.column[data-user-id="${persona.user_id}"]`)) new Column(persona);
    form.reset();
  } catch (error) {
    alert(`Could not add that person: ${error.message}`);
  }
});

api("api/personas").then((personas) => { for (const persona of personas) new Column(persona); });
