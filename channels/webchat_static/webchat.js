/*
 * Köprü web chat client: plain JavaScript, no framework, no external resources.
 *
 * Posts {sender, message} to the relative URL "webhook" (the page is served at
 * /webhooks/webchat/) and renders the bot's messages. Text from the bot or the
 * user is only ever inserted with textContent / text nodes, never parsed as HTML.
 * A 503 (message not processed, e.g. the conversation store is down) is sent again
 * after the server's retry_after, with growing pauses, the text kept in its bubble
 * and a notice in the customer's language; after the last try the text goes back
 * into the input box.
 */
(function () {
  "use strict";

  var ENDPOINT = "webhook";
  var UPDATES = "updates";
  var UPDATES_KEY = "kopru.webchat.updates.v1";
  var POLL_MS = 3000;
  var SENDER_KEY = "kopru.webchat.sender";
  var TRANSCRIPT_KEY = "kopru.webchat.transcript.v1";
  var MAX_TRANSCRIPT = 200;
  var MAX_MESSAGE_LENGTH = 4096;
  var REQUEST_TIMEOUT_MS = 60000;
  // A 503 means the message was not processed (e.g. the conversation store is down):
  // send it again, waiting at least what the server says, longer each time.
  var MAX_SEND_ATTEMPTS = 8;
  var MAX_RETRY_DELAY_S = 60;
  var RETRY_TEXTS = {
    en: {
      retrying: "Couldn't send your message. Retrying in {s} s…",
      gaveUp: "Your message could not be sent. Please try again later."
    },
    tr: {
      retrying: "Mesajınız gönderilemedi. {s} sn içinde yeniden deneniyor…",
      gaveUp: "Mesajınız gönderilemedi. Lütfen daha sonra tekrar deneyin."
    },
    pl: {
      retrying: "Nie udało się wysłać wiadomości. Ponowna próba za {s} s…",
      gaveUp: "Nie udało się wysłać wiadomości. Spróbuj ponownie później."
    }
  };
  var SENDER_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
  var URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;

  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var sendButton = document.getElementById("chat-send");
  var typing = document.getElementById("chat-typing");
  var statusLine = document.getElementById("chat-status");
  var errorLine = document.getElementById("chat-error");

  var pending = false;
  var memoryStore = {};

  // ---------------------------------------------------------------- storage

  function storageGet(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (e) {
      return Object.prototype.hasOwnProperty.call(memoryStore, key) ? memoryStore[key] : null;
    }
  }

  function storageSet(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (e) {
      memoryStore[key] = value;
    }
  }

  function randomId() {
    var cryptoObj = window.crypto || window.msCrypto;
    if (cryptoObj && typeof cryptoObj.randomUUID === "function") {
      return cryptoObj.randomUUID();
    }
    if (cryptoObj && typeof cryptoObj.getRandomValues === "function") {
      var bytes = new Uint8Array(16);
      cryptoObj.getRandomValues(bytes);
      bytes[6] = (bytes[6] & 0x0f) | 0x40;
      bytes[8] = (bytes[8] & 0x3f) | 0x80;
      var hex = "";
      for (var i = 0; i < bytes.length; i++) {
        hex += (bytes[i] + 0x100).toString(16).slice(1);
      }
      return (
        hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
        hex.slice(16, 20) + "-" + hex.slice(20)
      );
    }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2) +
      Math.random().toString(36).slice(2);
  }

  function getSenderId() {
    var id = storageGet(SENDER_KEY);
    if (!id || !SENDER_PATTERN.test(id)) {
      id = "webchat-" + randomId();
      storageSet(SENDER_KEY, id);
    }
    return id;
  }

  var senderId = getSenderId();

  function loadTranscript() {
    try {
      var data = JSON.parse(storageGet(TRANSCRIPT_KEY) || "[]");
      return Array.isArray(data) ? data : [];
    } catch (e) {
      return [];
    }
  }

  var transcript = loadTranscript();

  function remember(entry) {
    transcript.push(entry);
    if (transcript.length > MAX_TRANSCRIPT) {
      transcript = transcript.slice(transcript.length - MAX_TRANSCRIPT);
    }
    storageSet(TRANSCRIPT_KEY, JSON.stringify(transcript));
  }

  function forgetLast(entry) {
    var index = transcript.lastIndexOf(entry);
    if (index !== -1) {
      transcript.splice(index, 1);
      storageSet(TRANSCRIPT_KEY, JSON.stringify(transcript));
    }
  }

  // -------------------------------------------------------------- rendering

  function safeHttpUrl(value) {
    if (typeof value !== "string" || !value) {
      return null;
    }
    try {
      var url = new URL(value, document.baseURI);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function makeLink(href, text) {
    var a = document.createElement("a");
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = text;
    return a;
  }

  // Appends text to parent as text nodes, turning http(s) URLs into links.
  // Line breaks are kept by the CSS (white-space: pre-wrap).
  function appendLinkified(parent, text) {
    var last = 0;
    var match;
    URL_PATTERN.lastIndex = 0;
    while ((match = URL_PATTERN.exec(text)) !== null) {
      var raw = match[0];
      // Leave trailing punctuation (and an unbalanced ")") outside of the link.
      while (/[.,;:!?'")\]]$/.test(raw)) {
        if (raw.slice(-1) === ")" && raw.indexOf("(") !== -1) {
          break;
        }
        raw = raw.slice(0, -1);
      }
      var href = safeHttpUrl(raw);
      if (!href) {
        continue;
      }
      if (match.index > last) {
        parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      }
      parent.appendChild(makeLink(href, raw));
      last = match.index + raw.length;
      URL_PATTERN.lastIndex = last;
    }
    if (last < text.length) {
      parent.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  function scrollToBottom() {
    log.scrollTop = log.scrollHeight;
  }

  function addBubble(role, text) {
    var bubble = document.createElement("div");
    bubble.className = "msg msg--" + role;
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = role === "user" ? "You: " : "Köprü: ";
    bubble.appendChild(who);
    if (role === "bot") {
      appendLinkified(bubble, text);
    } else {
      bubble.appendChild(document.createTextNode(text));
    }
    log.appendChild(bubble);
    scrollToBottom();
    return bubble;
  }

  function addImage(src) {
    var href = safeHttpUrl(src);
    if (!href) {
      return;
    }
    var wrapper = document.createElement("div");
    wrapper.className = "msg msg--bot msg--image";
    var img = document.createElement("img");
    img.src = href;
    img.alt = "Image from Köprü";
    img.loading = "lazy";
    img.decoding = "async";
    img.referrerPolicy = "no-referrer";
    img.addEventListener("load", scrollToBottom);
    wrapper.appendChild(img);
    log.appendChild(wrapper);
    scrollToBottom();
  }

  function addButtons(buttons) {
    var list = document.createElement("ul");
    list.className = "chips";
    list.setAttribute("aria-label", "Suggested replies");
    buttons.forEach(function (button) {
      if (!button || typeof button !== "object") {
        return;
      }
      var title = typeof button.title === "string" ? button.title : "";
      var payload = typeof button.payload === "string" ? button.payload : "";
      var url = safeHttpUrl(button.url);
      var item = document.createElement("li");
      if (url && button.type === "web_url") {
        var link = makeLink(url, title || url);
        link.className = "chip";
        item.appendChild(link);
      } else {
        if (!title && !payload) {
          return;
        }
        var chip = document.createElement("button");
        chip.type = "button";
        chip.className = "chip";
        chip.textContent = title || payload;
        chip.addEventListener("click", function () {
          if (!pending) {
            send(payload || title, title || payload, null);
          }
        });
        item.appendChild(chip);
      }
      list.appendChild(item);
    });
    if (list.childNodes.length) {
      log.appendChild(list);
      scrollToBottom();
    }
  }

  // Only the chips of the latest bot turn (after the last user message) stay clickable.
  function refreshChips() {
    var active = !pending;
    for (var node = log.lastElementChild; node; node = node.previousElementSibling) {
      if (node.classList.contains("msg--user")) {
        active = false;
      } else if (node.classList.contains("chips")) {
        var chips = node.querySelectorAll("button.chip");
        for (var c = 0; c < chips.length; c++) {
          chips[c].disabled = !active;
        }
      }
    }
  }

  function renderBotMessage(message) {
    if (!message || typeof message !== "object") {
      return;
    }
    if (typeof message.text === "string" && message.text) {
      addBubble("bot", message.text);
    }
    if (typeof message.image === "string") {
      addImage(message.image);
    }
    if (typeof message.attachment === "string" && message.attachment) {
      addBubble("bot", message.attachment);
    }
    if (message.custom && typeof message.custom === "object" &&
        typeof message.custom.text === "string" && message.custom.text) {
      addBubble("bot", message.custom.text);
    }
    if (Array.isArray(message.buttons) && message.buttons.length) {
      addButtons(message.buttons);
    }
  }

  // Keeps only the fields the page renders, so the stored transcript stays small.
  function storedBotMessage(message) {
    var kept = {};
    ["text", "image", "attachment"].forEach(function (key) {
      if (typeof message[key] === "string") {
        kept[key] = message[key];
      }
    });
    if (Array.isArray(message.buttons)) {
      kept.buttons = message.buttons;
    }
    if (message.custom && typeof message.custom === "object" &&
        typeof message.custom.text === "string") {
      kept.custom = { text: message.custom.text };
    }
    return kept;
  }

  // ----------------------------------------------------------------- status

  function setPending(value) {
    pending = value;
    sendButton.disabled = value;
    typing.hidden = !value;
    statusLine.textContent = value ? "Köprü is typing…" : "";
    refreshChips();
    if (value) {
      log.setAttribute("aria-busy", "true");
    } else {
      log.removeAttribute("aria-busy");
    }
    scrollToBottom();
  }

  function showError(text) {
    errorLine.textContent = text;
    errorLine.hidden = false;
  }

  function clearError() {
    errorLine.textContent = "";
    errorLine.hidden = true;
  }

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 144) + "px";
  }

  function restoreTypedText(text) {
    var current = input.value;
    input.value = current.trim() ? text + "\n" + current : text;
    autoGrow();
  }

  function describeFailure(status, body) {
    if (body && typeof body.error === "string" && body.error) {
      return "Message not sent: " + body.error;
    }
    if (status >= 500) {
      return "The assistant is having trouble right now (error " + status +
        "). Please try again.";
    }
    return "Message not sent (error " + status + "). Please try again.";
  }

  // The language for the page's own words: the server's guess from the message, else
  // the browser's preferred one among ours.
  function pageLanguage(serverLanguage) {
    if (typeof serverLanguage === "string" && RETRY_TEXTS[serverLanguage]) {
      return serverLanguage;
    }
    var preferred = (navigator.languages && navigator.languages.length)
      ? navigator.languages : [navigator.language || "en"];
    for (var i = 0; i < preferred.length; i++) {
      var code = String(preferred[i] || "").slice(0, 2).toLowerCase();
      if (RETRY_TEXTS[code]) {
        return code;
      }
    }
    return "en";
  }

  function retryDelaySeconds(body, attempt) {
    var asked = body && typeof body.retry_after === "number" && body.retry_after > 0
      ? body.retry_after : 1;
    var backoff = Math.pow(2, attempt);
    return Math.min(Math.max(asked, backoff), MAX_RETRY_DELAY_S);
  }

  // ------------------------------------------------------------------ send

  function send(message, shownText, typedText) {
    var text = message.trim();
    if (!text || pending) {
      return;
    }
    if (text.length > MAX_MESSAGE_LENGTH) {
      showError("Message is too long (at most " + MAX_MESSAGE_LENGTH + " characters).");
      return;
    }
    clearError();

    var userEntry = { role: "user", text: shownText };
    var bubble = addBubble("user", shownText);
    remember(userEntry);
    setPending(true);

    var failed = function (errorText) {
      // Nothing is lost: drop the unsent bubble and give the text back.
      bubble.classList.remove("msg--retrying");
      if (bubble.parentNode) {
        bubble.parentNode.removeChild(bubble);
      }
      forgetLast(userEntry);
      if (typedText !== null) {
        restoreTypedText(typedText);
      }
      showError(errorText);
    };

    var finish = function () {
      setPending(false);
      input.focus();
    };

    var attempt = function (number) {
      var controller = typeof AbortController === "function" ? new AbortController() : null;
      var timer = controller
        ? window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS)
        : null;
      var retrying = false;

      window.fetch(ENDPOINT, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ sender: senderId, message: text }),
        credentials: "same-origin",
        signal: controller ? controller.signal : undefined
      })
        .then(function (response) {
          return response.json().then(
            function (body) { return { response: response, body: body }; },
            function () { return { response: response, body: null }; }
          );
        })
        .then(function (result) {
          var status = result.response.status;
          if (status === 503 && number < MAX_SEND_ATTEMPTS) {
            // Not processed: the text stays in its bubble and is sent again.
            var language = pageLanguage(result.body && result.body.language);
            var seconds = retryDelaySeconds(result.body, number);
            retrying = true;
            bubble.classList.add("msg--retrying");
            showError(RETRY_TEXTS[language].retrying.replace("{s}", String(seconds)));
            window.setTimeout(function () { attempt(number + 1); }, seconds * 1000);
            return;
          }
          if (status === 503) {
            failed(RETRY_TEXTS[pageLanguage(result.body && result.body.language)].gaveUp);
            return;
          }
          if (!result.response.ok || !Array.isArray(result.body)) {
            failed(describeFailure(status, result.body));
            return;
          }
          clearError();
          bubble.classList.remove("msg--retrying");
          result.body.forEach(function (message) {
            renderBotMessage(message);
            if (message && typeof message === "object") {
              remember({ role: "bot", message: storedBotMessage(message) });
            }
          });
        })
        .catch(function (error) {
          if (error && error.name === "AbortError") {
            failed("The assistant did not answer in time. Please try again.");
          } else {
            failed("Could not reach the assistant. Check your connection and try again.");
          }
        })
        .then(function () {
          if (timer !== null) {
            window.clearTimeout(timer);
          }
          if (!retrying) {
            finish();
          }
        });
    };

    attempt(1);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var typed = input.value;
    if (!typed.trim() || pending) {
      return;
    }
    input.value = "";
    autoGrow();
    send(typed, typed.trim(), typed);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing &&
        event.keyCode !== 229) {
      event.preventDefault();
      if (typeof form.requestSubmit === "function") {
        form.requestSubmit();
      } else {
        form.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    }
  });

  input.addEventListener("input", autoGrow);

  // ---------------------------------------------------------------- updates
  // Messages that do not answer one of ours (an agent's replies, handoff notices)
  // wait on the server; fetch them every few seconds while the page is visible.

  var lastUpdate = parseInt(storageGet(UPDATES_KEY) || "0", 10) || 0;
  var polling = false;

  function poll() {
    if (polling || document.hidden) {
      return;
    }
    polling = true;
    var url = UPDATES + "?sender=" + encodeURIComponent(senderId) + "&after=" + lastUpdate;
    window.fetch(url, { headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body || !Array.isArray(body.messages)) {
          return;
        }
        body.messages.forEach(function (message) {
          renderBotMessage(message);
          if (message && typeof message === "object") {
            remember({ role: "bot", message: storedBotMessage(message) });
          }
        });
        if (typeof body.last === "number" && body.last > lastUpdate) {
          lastUpdate = body.last;
          storageSet(UPDATES_KEY, String(lastUpdate));
        }
      })
      .catch(function () { /* offline: try again at the next tick */ })
      .then(function () { polling = false; });
  }

  // ------------------------------------------------------------------ start

  transcript.forEach(function (entry) {
    if (!entry || typeof entry !== "object") {
      return;
    }
    if (entry.role === "user" && typeof entry.text === "string") {
      addBubble("user", entry.text);
    } else if (entry.role === "bot") {
      renderBotMessage(entry.message);
    }
  });
  refreshChips();
  autoGrow();
  poll();
  window.setInterval(poll, POLL_MS);
  if (window.matchMedia && window.matchMedia("(pointer: fine)").matches) {
    input.focus();
  }
})();
