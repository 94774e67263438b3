// socialwatch sandbox web view. Polls the JSON control API every second and renders it.
// Rule: customer text only ever reaches the page through textContent / attributes, never
// innerHTML, so a post containing markup shows as text. The server's CSP backs this up.
"use strict";

const POLL_MS = 1000;
const state = {
  info: null,
  channel: null,          // the selected Slack channel id
  actAs: null,            // the Slack user id whose clicks we send
  lastJson: {},           // endpoint -> last JSON text (re-render only on change)
  clicks: {},             // channel:ts -> {text, cls}
  modalKey: null,         // id:hash of the modal on screen
  deliveries: {},
  users: {},
};

// -- helpers ------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function getJson(path) {
  const response = await fetch(path, {cache: "no-store"});
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  return {ok: response.ok, status: response.status, data};
}

function toast(text, cls) {
  const node = document.getElementById("toast");
  node.textContent = text;
  node.className = "toast " + (cls || "");
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 4000);
}

function fmtTs(ts) {
  const seconds = Number(String(ts).split(".")[0]);
  if (!seconds) return "";
  return new Date(seconds * 1000).toLocaleTimeString();
}

function fmtIso(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? String(iso) : date.toLocaleString();
}

function safeHref(url) {
  try {
    const parsed = new URL(url);
    return ["http:", "https:", "mailto:"].includes(parsed.protocol) ? parsed.href : null;
  } catch (e) {
    return null;
  }
}

// Slack escapes only these three in message text.
function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// -- mrkdwn -------------------------------------------------------------------------------
// Tokenises Slack's mrkdwn into DOM nodes. Every piece of text goes in via textContent.
const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", rotating_light: "🚨",
  red_circle: "🔴", large_orange_circle: "🟠", large_yellow_circle: "🟡", large_green_circle: "🟢",
  large_blue_circle: "🔵", white_circle: "⚪", speech_balloon: "💬", envelope: "✉️", bust_in_silhouette: "👤",
  link: "🔗", clock3: "🕒", hourglass: "⌛", no_entry_sign: "🚫", thumbsup: "👍", "+1": "👍",
  thumbsdown: "👎", pencil2: "✏️", bird: "🐦", raising_hand: "🙋", eyes: "👀", mag: "🔍",
};

function emojify(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
}

function plain(text) {
  return document.createTextNode(emojify(unescapeSlack(text)));
}

function renderInline(text, parent) {
  // Slack only formats at word boundaries: "white_check_mark" has no italics in it.
  const pattern = /(`[^`\n]+`|(?<![\w*])\*[^*\n]+\*(?![\w*])|(?<![\w_])_[^_\n]+_(?![\w_])|(?<![\w~])~[^~\n]+~(?![\w~]))/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) parent.append(plain(text.slice(last, match.index)));
    const token = match[0];
    const tag = {"`": "code", "*": "strong", "_": "em", "~": "del"}[token[0]];
    const inner = tag === "code" ? unescapeSlack(token.slice(1, -1)) : emojify(unescapeSlack(token.slice(1, -1)));
    parent.append(el(tag, {text: inner}));
    last = match.index + token.length;
  }
  if (last < text.length) parent.append(plain(text.slice(last)));
}

function renderSpecial(body, parent) {
  // body is what sat between < and >
  const [target, label] = body.split("|", 2);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const user = state.users[id];
    parent.append(el("span", {class: "mention", title: id, text: "@" + (label || (user ? user.name : id))}));
  } else if (target.startsWith("!")) {
    // A real broadcast ping: flagged loudly, as socialwatch must never produce one from customer text.
    const name = target.slice(1).split("^")[0];
    parent.append(el("span", {class: "mention broadcast", title: "broadcast mention", text: "@" + (label || name)}));
  } else if (target.startsWith("#")) {
    parent.append(el("span", {class: "mention", text: "#" + (label || target.slice(1))}));
  } else {
    const href = safeHref(target);
    if (href) {
      parent.append(el("a", {href, target: "_blank", rel: "noopener noreferrer", title: href,
                             text: unescapeSlack(label || target)}));
    } else {
      parent.append(document.createTextNode(unescapeSlack(label || target)));
    }
  }
}

function renderMrkdwn(text, parent) {
  const source = String(text || "");
  const chunks = source.split(/(```[\s\S]*?```)/g);
  for (const chunk of chunks) {
    if (chunk.startsWith("```") && chunk.endsWith("```") && chunk.length >= 6) {
      parent.append(el("pre", {text: unescapeSlack(chunk.slice(3, -3))}));
      continue;
    }
    let last = 0;
    for (const match of chunk.matchAll(/<([^<>\n]+)>/g)) {
      if (match.index > last) renderInline(chunk.slice(last, match.index), parent);
      renderSpecial(match[1], parent);
      last = match.index + match[0].length;
    }
    if (last < chunk.length) renderInline(chunk.slice(last), parent);
  }
  return parent;
}

function renderText(obj, cls) {
  const node = el("div", {class: "text " + (cls || "")});
  if (!obj) return node;
  if (obj.type === "mrkdwn") renderMrkdwn(obj.text, node);
  else node.textContent = obj.text || "";
  return node;
}

// -- Block Kit ----------------------------------------------------------------------------
function optionsOf(element) {
  const options = [...(element.options || [])];
  for (const group of element.option_groups || []) options.push(...(group.options || []));
  return options;
}

function renderElement(element, ctx) {
  const type = element.type;
  if (type === "button") {
    const button = el("button", {
      class: "btn " + (element.style || ""), type: "button",
      "data-action-id": element.action_id, "data-value": element.value,
      text: (element.text && element.text.text) || "button",
    });
    if (element.url) button.title = element.url;
    if (ctx.disabled) button.disabled = true;
    button.addEventListener("click", () => ctx.onAction(element, element.value));
    return button;
  }
  if (type === "static_select" || type === "overflow") {
    const select = el("select", {"data-action-id": element.action_id},
      el("option", {value: "", text: (element.placeholder && element.placeholder.text) || (type === "overflow" ? "…" : "Choose")}));
    for (const option of optionsOf(element)) {
      select.append(el("option", {value: option.value, text: (option.text && option.text.text) || option.value}));
    }
    if (element.initial_option) select.value = element.initial_option.value;  // as Slack shows it
    select.addEventListener("change", () => { if (select.value) ctx.onAction(element, select.value); });
    return select;
  }
  if (type === "image") return el("span", {class: "image", text: `[image: ${element.alt_text || ""}]`});
  if (element.text && typeof element.text === "object") return renderText(element.text);
  return el("span", {class: "muted", text: `[${type}]`});
}

function richTextToString(block) {
  const parts = [];
  const walk = (node) => {
    if (!node) return;
    if (typeof node.text === "string") parts.push(node.text);
    if (node.type === "user") parts.push("@" + node.user_id);
    if (node.type === "link") parts.push(node.text || node.url);
    for (const child of node.elements || []) walk(child);
    if (node.type === "rich_text_section" || node.type === "rich_text_preformatted") parts.push("\n");
  };
  walk(block);
  return parts.join("");
}

function renderBlocks(blocks, ctx) {
  const box = el("div", {class: "blocks"});
  for (const block of blocks || []) {
    const type = block.type;
    let node;
    if (type === "section") {
      node = el("div", {class: "block section", "data-block-id": block.block_id});
      const main = el("div", {class: "section-main"});
      if (block.text) main.append(renderText(block.text));
      if (block.fields) {
        const grid = el("div", {class: "fields"});
        for (const field of block.fields) grid.append(renderText(field));
        main.append(grid);
      }
      node.append(main);
      if (block.accessory) node.append(el("div", {class: "accessory"}, renderElement(block.accessory, ctx)));
    } else if (type === "header") {
      node = el("h3", {class: "block header", text: (block.text && block.text.text) || ""});
    } else if (type === "context") {
      node = el("div", {class: "block context"});
      for (const item of block.elements || []) {
        node.append(item.type === "image" ? el("span", {class: "image", text: `[${item.alt_text || "image"}]`})
                                          : renderText(item));
      }
    } else if (type === "divider") {
      node = el("hr", {class: "block divider"});
    } else if (type === "actions") {
      node = el("div", {class: "block actions", "data-block-id": block.block_id});
      for (const element of block.elements || []) node.append(renderElement(element, ctx));
    } else if (type === "image") {
      node = el("div", {class: "block image", text: `[image: ${block.alt_text || ""}]`});
    } else if (type === "rich_text") {
      node = el("div", {class: "block text", text: richTextToString(block)});
    } else if (type === "markdown") {
      node = renderMrkdwn(block.text, el("div", {class: "block text"}));
    } else if (type === "input" && ctx.inputs) {
      node = renderInput(block, ctx);
    } else {
      node = el("div", {class: "block muted", text: `[unsupported block: ${type}]`});
    }
    box.append(node);
  }
  return box;
}

// -- Slack column -------------------------------------------------------------------------
function clickKey(message) { return message.channel + ":" + message.ts; }

async function clickAction(message, element, value) {
  const key = clickKey(message);
  state.clicks[key] = {text: `clicking "${element.action_id}"…`, cls: "pending"};
  renderSlack(true);
  const result = await postJson("/_sandbox/slack/actions", {
    channel: message.channel, ts: message.ts, action_id: element.action_id, value,
    user: {id: state.actAs, name: (state.users[state.actAs] || {}).name},
  });
  if (result.ok) {
    state.clicks[key] = {text: `delivered over Socket Mode (envelope ${result.data.envelope_id.slice(0, 8)})`,
                         cls: "pending", envelope: result.data.envelope_id};
  } else {
    const why = (result.data && result.data.error) || `HTTP ${result.status}`;
    state.clicks[key] = {text: `not delivered: ${why}`, cls: "error"};
    toast(why, "error");
  }
  renderSlack(true);
}

function clickStatus(message) {
  const click = state.clicks[clickKey(message)];
  if (!click) return null;
  if (click.envelope) {
    const delivery = state.deliveries[click.envelope];
    if (delivery && delivery.acked) {
      click.text = `acked by the app in ${Math.round(delivery.ack_latency * 1000)} ms`;
      click.cls = delivery.acked_in_time ? "ok" : "error";
    } else if (delivery && delivery.gave_up) {
      click.text = "never acked (Slack would show an error)";
      click.cls = "error";
    } else if (delivery && delivery.attempts.length > 1) {
      click.text = `not acked yet, redelivered ${delivery.attempts.length - 1}×`;
    }
  }
  return el("div", {class: "click-status " + click.cls, text: click.text});
}

function renderMessage(message, replies) {
  const user = state.users[message.user];
  const card = el("article", {
    class: "message" + (message.ephemeral ? " ephemeral" : ""),
    "data-channel": message.channel, "data-ts": message.ts,
  });
  const head = el("div", {class: "message-head"},
    el("strong", {text: user ? (user.real_name || user.name) : (message.bot_id ? "app" : message.user)}),
    message.bot_id ? el("span", {class: "badge", text: "APP"}) : null,
    el("span", {class: "muted", text: fmtTs(message.ts)}),
    message.edited_ts ? el("span", {class: "muted", text: "(edited)"}) : null);
  card.append(head);
  if (message.ephemeral) {
    const target = state.users[message.ephemeral_user];
    card.append(el("div", {class: "muted small",
      text: `Only visible to ${target ? target.name : message.ephemeral_user}`}));
  }
  const ctx = {onAction: (element, value) => clickAction(message, element, value)};
  if (message.blocks && message.blocks.length) {
    card.append(renderBlocks(message.blocks, ctx));
  } else {
    card.append(renderMrkdwn(message.text, el("div", {class: "text"})));
  }
  for (const fileId of message.files || []) {
    card.append(el("div", {class: "file"}, el("a", {href: `/_sandbox/slack/files/${encodeURIComponent(fileId)}/content`,
                                                   text: `📎 ${fileId}`})));
  }
  const status = clickStatus(message);
  if (status) card.append(status);
  if (message.history && message.history.length) {
    const details = el("details", {class: "history"},
      el("summary", {text: `${message.history.length} earlier version(s)`}));
    for (const version of [...message.history].reverse()) {
      const old = el("div", {class: "old-version"},
        el("div", {class: "muted small", text: `replaced ${new Date(version.replaced_at * 1000).toLocaleTimeString()}`}));
      if (version.blocks && version.blocks.length) {
        old.append(renderBlocks(version.blocks, {onAction: () => {}, disabled: true}));
      }
      else old.append(renderMrkdwn(version.text, el("div", {class: "text"})));
      details.append(old);
    }
    card.append(details);
  }
  if (message.metadata) {
    card.append(el("div", {class: "muted small metadata", title: JSON.stringify(message.metadata.event_payload),
                           text: `metadata: ${message.metadata.event_type}`}));
  }
  if (replies && replies.length) {
    const thread = el("div", {class: "thread"});
    for (const reply of replies) thread.append(renderMessage(reply, null));
    card.append(thread);
  }
  return card;
}

let slackData = null;

function renderSlack(force) {
  if (!slackData) return;
  const tabs = document.getElementById("channel-tabs");
  const box = document.getElementById("slack-messages");
  const channels = slackData.channels || [];
  if (!state.channel && channels.length) state.channel = (state.info && state.info.slack.channel) || channels[0].id;
  tabs.replaceChildren(...channels.map((channel) => {
    const count = slackData.messages.filter((m) => m.channel === channel.id).length;
    return el("button", {
      type: "button", class: "tab" + (channel.id === state.channel ? " active" : ""),
      "data-channel": channel.id, text: `#${channel.name} (${count})`,
      onclick: () => { state.channel = channel.id; renderSlack(true); },
    });
  }));
  const inChannel = slackData.messages.filter((m) => m.channel === state.channel);
  const tops = inChannel.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
  const nodes = tops.slice().reverse().map((message) => renderMessage(
    message, inChannel.filter((r) => r.thread_ts === message.ts && r.ts !== message.ts)));
  if (!nodes.length) nodes.push(el("p", {class: "muted", text: "No messages yet."}));
  box.replaceChildren(...nodes);
}

// -- modals -------------------------------------------------------------------------------
function renderInput(block, ctx) {
  const element = block.element || {};
  const id = `in-${block.block_id}-${element.action_id}`;
  const wrap = el("div", {class: "block input", "data-block-id": block.block_id},
    el("label", {for: id, text: (block.label && block.label.text) || ""}));
  let field;
  if (element.type === "plain_text_input") {
    field = el(element.multiline ? "textarea" : "input", {id, rows: element.multiline ? 5 : null,
      maxlength: element.max_length || null});
    field.value = element.initial_value || "";
  } else if (element.type === "static_select" || element.type === "radio_buttons") {
    field = el("select", {id}, el("option", {value: "", text: "Choose"}));
    for (const option of optionsOf(element)) {
      field.append(el("option", {value: option.value, text: (option.text && option.text.text) || option.value}));
    }
    if (element.initial_option) field.value = element.initial_option.value;
  } else {
    field = el("input", {id, placeholder: element.type});
  }
  field.dataset.blockId = block.block_id;
  field.dataset.actionId = element.action_id;
  wrap.append(field);
  if (ctx.errors && ctx.errors[block.block_id]) {
    wrap.append(el("div", {class: "error small", text: ctx.errors[block.block_id]}));
  }
  if (block.hint) wrap.append(el("div", {class: "muted small", text: block.hint.text}));
  return wrap;
}

function renderModal(views) {
  const layer = document.getElementById("modal-layer");
  const open = (views || []).filter((v) => v.status === "open" && v.type === "modal");
  const view = open[open.length - 1];
  const key = view ? `${view.id}:${view.hash}:${JSON.stringify(view.errors)}` : null;
  if (key === state.modalKey) return;  // unchanged: keep whatever the person is typing
  state.modalKey = key;
  if (!view) { layer.hidden = true; layer.replaceChildren(); return; }
  const ctx = {inputs: true, errors: view.errors || {}, onAction: () => {}};
  const form = el("form", {class: "modal", "data-view-id": view.id},
    el("h3", {text: (view.title && view.title.text) || "Modal"}),
    el("div", {class: "muted small", text: `for ${(state.users[view.user] || {}).name || view.user}`}),
    renderBlocks(view.blocks, ctx));
  const buttons = el("div", {class: "modal-buttons"},
    el("button", {type: "button", class: "btn", text: (view.close && view.close.text) || "Cancel",
                  onclick: async () => { await postJson("/_sandbox/slack/views/close", {view_id: view.id}); }}));
  if (view.submit) buttons.append(el("button", {type: "submit", class: "btn primary", text: view.submit.text}));
  form.append(buttons);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const field of form.querySelectorAll("[data-action-id]")) {
      const blockId = field.dataset.blockId;
      if (!blockId) continue;
      values[blockId] = values[blockId] || {};
      values[blockId][field.dataset.actionId] = field.value === "" ? null : field.value;
    }
    const result = await postJson("/_sandbox/slack/views/submit", {view_id: view.id, values, user: {id: view.user}});
    if (!result.ok) toast((result.data && result.data.error) || `HTTP ${result.status}`, "error");
  });
  layer.replaceChildren(form);
  layer.hidden = false;
}

// -- X and Facebook -----------------------------------------------------------------------
function person(name, handle, extra) {
  return el("span", {class: "person"}, el("strong", {text: name || ""}),
    handle ? el("span", {class: "muted", text: " @" + handle}) : null,
    extra ? el("span", {class: "muted", text: " · " + extra}) : null);
}

function renderX(data) {
  const view = document.getElementById("x-view");
  document.getElementById("x-brand").textContent = data.brand ? "@" + data.brand.username : "";
  const byId = {};
  for (const tweet of data.tweets || []) byId[tweet.id] = tweet;
  const list = el("div", {class: "feed"});
  for (const tweet of (data.mentions || []).slice(0, 50)) {
    const author = tweet.author || {};
    const followers = author.public_metrics ? `${author.public_metrics.followers_count} followers` : "";
    const item = el("div", {class: "item", "data-id": tweet.id},
      el("div", {class: "item-head"}, person(author.name, author.username, followers),
         el("span", {class: "muted small", text: fmtIso(tweet.created_at)})),
      el("div", {class: "text", text: tweet.text}));
    for (const replyId of tweet.replies || []) {
      const reply = byId[replyId];
      if (reply) item.append(el("div", {class: "brand-reply"}, el("span", {class: "badge", text: "brand"}),
                                el("span", {class: "text", text: reply.text})));
    }
    list.append(item);
  }
  if (!list.children.length) list.append(el("p", {class: "muted", text: "No mentions."}));
  const dms = el("div", {class: "feed"});
  for (const dm of (data.dms || []).slice(0, 30)) {
    dms.append(el("div", {class: "item" + (dm.from_brand ? " from-brand" : "")},
      el("div", {class: "item-head"}, person(dm.sender && dm.sender.name, dm.sender && dm.sender.username,
                                             "to @" + ((dm.recipient && dm.recipient.username) || "")),
         el("span", {class: "muted small", text: fmtIso(dm.created_at)})),
      el("div", {class: "text", text: dm.text})));
  }
  if (!dms.children.length) dms.append(el("p", {class: "muted", text: "No direct messages."}));
  view.replaceChildren(el("h3", {text: "Mentions"}), list, el("h3", {text: "Direct messages"}), dms,
                       renderPosted(data.posted));
}

function renderComment(comment) {
  const node = el("div", {class: "comment" + (comment.from_page ? " from-brand" : "")},
    el("div", {class: "item-head"}, person(comment.from && comment.from.name),
       el("span", {class: "muted small", text: fmtIso(comment.created_time)})),
    el("div", {class: "text", text: comment.message}));
  for (const reply of comment.replies || []) node.append(renderComment(reply));
  return node;
}

function renderFacebook(data) {
  const view = document.getElementById("fb-view");
  document.getElementById("fb-page").textContent = data.page ? data.page.name : "";
  const posts = el("div", {class: "feed"});
  for (const post of (data.posts || []).slice(0, 30)) {
    const item = el("div", {class: "item", "data-id": post.id},
      el("div", {class: "item-head"}, person(post.from && post.from.name, null, post.kind),
         el("span", {class: "muted small", text: fmtIso(post.created_time)})),
      el("div", {class: "text", text: post.message || ""}));
    for (const comment of post.comments || []) item.append(renderComment(comment));
    posts.append(item);
  }
  if (!posts.children.length) posts.append(el("p", {class: "muted", text: "No posts."}));
  const convs = el("div", {class: "feed"});
  for (const conv of (data.conversations || []).slice(0, 20)) {
    const item = el("div", {class: "item"}, el("div", {class: "item-head"},
      person(conv.participant && conv.participant.name, null, "Messenger")));
    for (const message of conv.messages || []) {
      item.append(el("div", {class: "dm" + (message.from_page ? " from-brand" : "")},
        el("span", {class: "muted small", text: `${(message.from || {}).name || ""}: `}),
        el("span", {class: "text", text: message.message})));
    }
    convs.append(item);
  }
  if (!convs.children.length) convs.append(el("p", {class: "muted", text: "No conversations."}));
  view.replaceChildren(el("h3", {text: "Page posts and comments"}), posts,
                       el("h3", {text: "Messenger"}), convs, renderPosted(data.posted));
}

function renderPosted(posted) {
  const box = el("details", {class: "posted", open: true},
    el("summary", {text: `What the brand posted (${(posted || []).length})`}));
  for (const entry of (posted || []).slice(0, 30)) {
    box.append(el("div", {class: "item from-brand"},
      el("span", {class: "badge", text: entry.kind}),
      el("span", {class: "text", text: entry.text}),
      entry.in_reply_to ? el("span", {class: "muted small", text: ` ↩ ${entry.in_reply_to}`}) : null));
  }
  return box;
}

// -- polling ------------------------------------------------------------------------------
function changed(name, data) {
  const text = JSON.stringify(data);
  if (state.lastJson[name] === text) return false;
  state.lastJson[name] = text;
  return true;
}

async function pollOnce() {
  const jobs = {
    slack: getJson("/_sandbox/slack/messages"),
    views: getJson("/_sandbox/slack/views"),
    acks: getJson("/_sandbox/slack/acks"),
    conns: getJson("/_sandbox/slack/connections"),
    x: getJson("/_sandbox/x/timeline"),
    fb: getJson("/_sandbox/facebook/timeline"),
  };
  const results = {};
  const errors = [];
  for (const [name, job] of Object.entries(jobs)) {
    try { results[name] = await job; } catch (e) { errors.push(name); }
  }
  const status = document.getElementById("status");
  status.textContent = errors.length ? `unreachable: ${errors.join(", ")}` : `live · ${new Date().toLocaleTimeString()}`;
  status.className = "status " + (errors.length ? "error" : "ok");
  if (results.conns) {
    const count = results.conns.connections.filter((c) => !c.draining).length;
    const socket = document.getElementById("socket");
    socket.textContent = count ? `Socket Mode: ${count} client(s)` : "Socket Mode: no client connected";
    socket.className = "status " + (count ? "ok" : "error");
  }
  let slackChanged = false;
  if (results.acks && changed("acks", results.acks)) {
    state.deliveries = {};
    for (const delivery of results.acks.deliveries) {
      for (const attempt of delivery.attempts) state.deliveries[attempt.envelope_id] = delivery;
      state.deliveries[delivery.id] = delivery;
    }
    slackChanged = true;
  }
  if (results.slack && changed("slack", results.slack)) { slackData = results.slack; slackChanged = true; }
  if (slackChanged) renderSlack(true);
  if (results.views) renderModal(results.views.views);
  if (results.x && changed("x", results.x)) renderX(results.x);
  if (results.fb && changed("fb", results.fb)) renderFacebook(results.fb);
}

async function loop() {
  try { await pollOnce(); } catch (e) { console.error(e); }
  setTimeout(loop, POLL_MS);
}

async function loadInfo() {
  try {
    state.info = await getJson("/_sandbox/info");
  } catch (e) {
    state.info = null;
  }
  try {
    const users = await getJson("/_sandbox/slack/users");
    for (const user of users.users) state.users[user.id] = user;
  } catch (e) { /* the page still works without names */ }
  const select = document.getElementById("act-as");
  const slack = state.info && state.info.slack;
  const people = slack ? [slack.approver, slack.non_approver] :
    Object.values(state.users).filter((u) => !u.is_bot);
  select.replaceChildren(...people.map((p, i) => el("option", {value: p.id,
    text: `${p.name}${slack ? (i === 0 ? " (approver)" : " (not an approver)") : ""}`})));
  state.actAs = people.length ? people[0].id : null;
  select.addEventListener("change", () => { state.actAs = select.value; });
}

function setupInject() {
  const form = document.getElementById("inject");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const kind = document.getElementById("inject-kind").value;
    const name = document.getElementById("inject-name").value.trim() || "Casey Customer";
    const handle = document.getElementById("inject-handle").value.trim().replace(/^@/, "") || "casey_c";
    const text = document.getElementById("inject-text").value;
    if (!text.trim()) { toast("Write something first", "error"); return; }
    const routes = {
      "x-mention": ["/_sandbox/x/mentions", {author: {handle, name, followers: 120}, text}],
      "x-dm": ["/_sandbox/x/dms", {sender: {handle, name}, text}],
      "fb-comment": ["/_sandbox/facebook/comments", {author: {name}, text}],
      "fb-post": ["/_sandbox/facebook/posts", {author: {name}, text}],
      "fb-message": ["/_sandbox/facebook/messages", {sender: {name}, text}],
      "ig-comment": ["/_sandbox/instagram/comments", {author: {username: handle, name}, text}],
      "ig-mention": ["/_sandbox/instagram/mentions", {author: {username: handle, name}, text}],
      "ig-dm": ["/_sandbox/instagram/dms", {sender: {username: handle, name}, text}],
    };
    const [path, body] = routes[kind];
    const result = await postJson(path, body);
    const out = document.getElementById("inject-result");
    out.textContent = result.ok ? `created ${result.data.id}` : `failed: ${(result.data && result.data.error) || result.status}`;
    out.className = "hint " + (result.ok ? "ok" : "error");
    if (result.ok) document.getElementById("inject-text").value = "";
  });
}

document.addEventListener("DOMContentLoaded", async () => {
  setupInject();
  await loadInfo();
  loop();
});
