// The window's card check: read a member card's QR code with the device camera (or a scanner
// typing into the field), verify its Ed25519 signature in the browser with the scheme's public key
// kept on this device, so that it works offline, then, when online, ask the register for the
// card's status (a lost or suspended card keeps its signature). Format: docs/cards.md.
(function () {
  "use strict";
  var root = document.getElementById("card-scan");
  if (!root) {
    return;
  }
  var KEYS = "equicover.cardKeys";
  var result = document.getElementById("scan-result");
  var verdictBox = document.getElementById("scan-verdict");
  var reasonBox = document.getElementById("scan-reason");
  var noteBox = document.getElementById("scan-note");
  var openLink = document.getElementById("scan-open");
  var video = document.getElementById("scan-video");
  var canvas = document.getElementById("scan-canvas");
  var input = document.getElementById("scan-text");
  var scanning = false;

  function message(name, values) {
    var text = root.getAttribute("data-" + name) || name;
    Object.keys(values || {}).forEach(function (key) {
      text = text.split("{" + key + "}").join(values[key]);
    });
    return text;
  }

  function storedKeys() {
    try {
      return JSON.parse(window.localStorage.getItem(KEYS) || "{}");
    } catch (error) {
      return {};
    }
  }

  function fetchKey(scheme) {
    return fetch("/api/v1/card-keys/" + encodeURIComponent(scheme), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body === null) {
          return null;
        }
        var keys = storedKeys();
        keys[scheme] = { key_id: body.key_id, key: body.public_key_base64url };
        window.localStorage.setItem(KEYS, JSON.stringify(keys));
        return keys[scheme];
      })
      .catch(function () { return null; });
  }

  function bytes(base64url) {
    var text = base64url.replace(/-/g, "+").replace(/_/g, "/");
    text += "=".repeat((4 - (text.length % 4)) % 4);
    var raw = window.atob(text);
    var out = new Uint8Array(raw.length);
    for (var index = 0; index < raw.length; index += 1) {
      out[index] = raw.charCodeAt(index);
    }
    return out;
  }

  function isoDate(compact) {
    return compact.slice(0, 4) + "-" + compact.slice(4, 6) + "-" + compact.slice(6, 8);
  }

  function today() {
    var now = new Date();
    var month = String(now.getMonth() + 1).padStart(2, "0");
    var day = String(now.getDate()).padStart(2, "0");
    return String(now.getFullYear()) + month + day;
  }

  // The fields of a payload, or null when it is not one (docs/cards.md).
  function parse(payload) {
    var parts = payload.trim().split("|");
    if (parts.length !== 9 || parts[0] !== "EQC1") {
      return null;
    }
    var face = {
      keyId: parts[1], number: parts[2], holder: parts[3], scheme: parts[4], category: parts[5],
      from: parts[6], to: parts[7], signature: parts[8],
      signed: payload.trim().slice(0, payload.trim().lastIndexOf("|")),
    };
    var shaped = /^[0-9a-f]{8}$/.test(face.keyId) && /^[PH][1-9][0-9]{0,9}$/.test(face.holder) &&
      /^[0-9]{8}$/.test(face.from) && /^[0-9]{8}$/.test(face.to) && face.scheme !== "" &&
      /^[A-Za-z0-9_-]+$/.test(face.signature);
    return shaped ? face : null;
  }

  function show(verdict, reason, note, number) {
    result.hidden = false;
    result.setAttribute("data-verdict", verdict);
    verdictBox.textContent = message(verdict);
    reasonBox.textContent = reason;
    noteBox.textContent = note || "";
    if (number) {
      openLink.hidden = false;
      openLink.href = "/window?q=" + encodeURIComponent(number);
    } else {
      openLink.hidden = true;
    }
  }

  function registerStatus(face, offlineNote) {
    if (!navigator.onLine) {
      show("valid", message("valid-until", { date: isoDate(face.to) }), offlineNote, null);
      return Promise.resolve();
    }
    return fetch("/api/v1/cards/" + encodeURIComponent(face.number), { credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 404) {
          return { status: "unregistered" };
        }
        return response.ok ? response.json() : null;
      })
      .then(function (card) {
        if (card !== null && card.status !== "issued" && card.status !== "active") {
          show("invalid", message("status-" + card.status), "", null);
        } else {
          show("valid", message("valid-until", { date: isoDate(face.to) }), "", face.number);
        }
      })
      .catch(function () {
        show("valid", message("valid-until", { date: isoDate(face.to) }), offlineNote, null);
      });
  }

  function check(payload) {
    var face = parse(payload);
    if (face === null) {
      show("invalid", message("not-card"), "", null);
      return Promise.resolve();
    }
    if (BigInt(face.number) % 97n !== 1n || face.number.length !== 12) {
      show("invalid", message("mistyped"), "", null);
      return Promise.resolve();
    }
    var offlineNote = navigator.onLine ? "" : message("offline");
    var known = storedKeys()[face.scheme];
    var found = known && known.key_id === face.keyId ? Promise.resolve(known) : fetchKey(face.scheme);
    return found.then(function (key) {
      if (!key || key.key_id !== face.keyId) {
        show("invalid", message("no-key"), offlineNote, null);
        return null;
      }
      return window.crypto.subtle
        .importKey("raw", bytes(key.key), { name: "Ed25519" }, false, ["verify"])
        .then(function (publicKey) {
          return window.crypto.subtle.verify(
            { name: "Ed25519" }, publicKey, bytes(face.signature), new TextEncoder().encode(face.signed)
          );
        })
        .then(function (good) {
          if (!good) {
            show("invalid", message("bad-signature"), offlineNote, null);
          } else if (today() < face.from) {
            show("invalid", message("not-yet", { date: isoDate(face.from) }), offlineNote, null);
          } else if (today() > face.to) {
            show("expired", message("expired-on", { date: isoDate(face.to) }), offlineNote, null);
          } else {
            return registerStatus(face, offlineNote);
          }
          return null;
        })
        .catch(function () { show("invalid", message("bad-signature"), offlineNote, null); });
    });
  }

  function frame() {
    if (!scanning) {
      return;
    }
    if (video.readyState >= 2 && video.videoWidth > 0) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      var context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0);
      var image = context.getImageData(0, 0, canvas.width, canvas.height);
      var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      if (code && code.data) {
        stop();
        input.value = code.data;
        check(code.data);
        return;
      }
    }
    window.requestAnimationFrame(frame);
  }

  function stop() {
    scanning = false;
    if (video.srcObject) {
      video.srcObject.getTracks().forEach(function (track) { track.stop(); });
      video.srcObject = null;
    }
  }

  document.getElementById("scan-start").addEventListener("click", function () {
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        scanning = true;
        return video.play().then(function () { window.requestAnimationFrame(frame); });
      })
      .catch(function () { show("invalid", message("camera-error"), "", null); });
  });

  document.getElementById("scan-form").addEventListener("submit", function (event) {
    event.preventDefault();
    check(input.value);
  });

  // Keep the schemes' keys on this device while online, for the checks made offline later.
  if (navigator.onLine) {
    (root.getAttribute("data-schemes") || "").split(" ").filter(Boolean).forEach(fetchKey);
  }
})();
