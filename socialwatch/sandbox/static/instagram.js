"use strict";
// The brand's Instagram as the sandbox holds it: its posts with comments and replies, media that tag it,
// and its DMs. Polls /_sandbox/instagram/timeline; text only ever goes in through textContent (el()).

function renderIgComment(comment) {
  const who = comment.from ? comment.from.username : "(author not shown)";
  const node = el("div", {class: "comment" + (comment.from_brand ? " from-brand" : "")},
    el("div", {class: "item-head"}, person(null, who),
       el("span", {class: "muted small", text: fmtIso(comment.timestamp)})),
    el("div", {class: "text", text: comment.text}));
  for (const reply of comment.replies || []) node.append(renderIgComment(reply));
  return node;
}

function renderIgMedia(media, kind) {
  const item = el("div", {class: "item", "data-id": media.id},
    el("div", {class: "item-head"}, person(null, media.username, kind),
       el("span", {class: "muted small", text: fmtIso(media.timestamp)})),
    el("div", {class: "text", text: media.caption || ""}));
  for (const comment of media.comments || []) item.append(renderIgComment(comment));
  return item;
}

function renderInstagram(data) {
  const view = document.getElementById("ig-view");
  document.getElementById("ig-account").textContent = data.account ? "@" + data.account.username : "";
  const posts = el("div", {class: "feed"});
  for (const media of (data.media || []).slice(0, 30)) posts.append(renderIgMedia(media, "post"));
  if (!posts.children.length) posts.append(el("p", {class: "muted", text: "No posts."}));
  const tags = el("div", {class: "feed"});
  for (const media of (data.mentions || []).slice(0, 30)) tags.append(renderIgMedia(media, "tags the brand"));
  if (!tags.children.length) tags.append(el("p", {class: "muted", text: "No media tag the brand."}));
  const convs = el("div", {class: "feed"});
  for (const conv of (data.conversations || []).slice(0, 20)) {
    const item = el("div", {class: "item"}, el("div", {class: "item-head"},
      person(null, conv.participant && conv.participant.username, "Instagram DM")));
    for (const message of conv.messages || []) {
      const extra = (message.attachments || []).map((kind) => `[${kind}]`).join(" ");
      item.append(el("div", {class: "dm" + (message.from_brand ? " from-brand" : "")},
        el("span", {class: "muted small", text: `${(message.from || {}).username || ""}: `}),
        el("span", {class: "text", text: [message.message, extra].filter(Boolean).join(" ")})));
    }
    convs.append(item);
  }
  if (!convs.children.length) convs.append(el("p", {class: "muted", text: "No conversations."}));
  view.replaceChildren(el("h3", {text: "Posts and comments"}), posts, el("h3", {text: "Tagged in"}), tags,
                       el("h3", {text: "Direct messages"}), convs, renderPosted(data.posted));
}

let lastInstagram = null;

async function pollInstagram() {
  try {
    const data = await getJson("/_sandbox/instagram/timeline");
    const text = JSON.stringify(data);
    if (text !== lastInstagram) {
      lastInstagram = text;
      renderInstagram(data);
    }
  } catch (e) { /* the main poll shows the sandbox as unreachable */ }
  setTimeout(pollInstagram, POLL_MS);
}

document.addEventListener("DOMContentLoaded", pollInstagram);
