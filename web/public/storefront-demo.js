// The demo page's own script (the storefront's, not the widget's): puts one element for the
// ?handle=&slug= of the address into the page; without slug, one per public group-buy of the
// handle (published, paused or closed). With ?api=<origin> the widgets call the API there,
// as on a storefront of another origin than the API's (CORS: STOREFRONT_ORIGINS).
(function () {
  var q = new URLSearchParams(location.search);
  var handle = q.get('handle') || 'acme-decor';
  var api = q.get('api') || '';
  var slot = document.getElementById('slot');
  function add(slug) {
    var el = document.createElement('gharart-group-buy');
    el.setAttribute('handle', handle);
    el.setAttribute('slug', slug);
    if (api) el.setAttribute('api-base', api);
    slot.appendChild(el);
  }
  if (q.get('slug')) return add(q.get('slug'));
  fetch(api + '/v2/public/group-buys/' + encodeURIComponent(handle) + '?limit=10')
    .then(function (r) { return r.ok ? r.json() : { items: [] }; })
    .then(function (body) {
      if (!body.items.length) slot.textContent = 'No public group-buy of ' + handle + ' yet: publish one in the console.';
      body.items.forEach(function (gb) { add(gb.slug); });
    });
})();
