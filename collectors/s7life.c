/*
 * s7life.c - S7 blocks from download to activation or deletion
 * (collectors/s7life.h).
 */
#include "s7life.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "mc7.h"

static const char *fate_name(int f)
{
	switch (f) {
	case FATE_DOWNLOADED: return "downloaded_not_activated";
	case FATE_INCOMPLETE: return "incomplete";
	case FATE_REFUSED: return "refused";
	case FATE_ACTIVATED: return "activated";
	case FATE_DELETED: return "deleted";
	default: return "named_only";
	}
}

struct s7_life_ent *s7_life_get(struct s7_life *l, struct pg_budget *b, uint8_t type,
				uint16_t number, int *full)
{
	*full = 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].type == type && l->v[i].number == number)
			return &l->v[i];
	if (l->n >= PG_S7_MAX_FATES) {
		*full = 1;
		return NULL;
	}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 8;
		if (nc > PG_S7_MAX_FATES)
			nc = PG_S7_MAX_FATES;
		if (pg_budget_charge(b, (nc - l->cap) * sizeof *l->v) < 0)
			return NULL;
		struct s7_life_ent *nv = realloc(l->v, nc * sizeof *nv);
		if (!nv) {
			pg_budget_release(b, (nc - l->cap) * sizeof *l->v);
			return NULL;
		}
		l->v = nv;
		l->cap = nc;
	}
	struct s7_life_ent *f = &l->v[l->n++];
	memset(f, 0, sizeof *f);
	f->type = type;
	f->number = number;
	return f;
}

void s7_life_pi_answer(struct s7_life *l, uint16_t ref, uint16_t err, uint64_t frame)
{
	for (size_t i = 0; i < l->n; i++) {
		struct s7_life_ent *f = &l->v[i];
		if (!f->pi_pending || f->pi_ref != ref)
			continue;
		f->pi_pending = 0;
		if (err) {
			f->pi_err = err;
		} else {
			f->fate = f->pi_kind;
			f->pi_confirmed = 1;
			f->pi_err = 0;
		}
		f->frame = frame;
	}
}

void s7_life_close(struct s7_life *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct s7_life_ent *f = &l->v[i];
		if (f->pi_pending && f->fate != FATE_REFUSED)
			f->fate = f->pi_kind;
	}
}

int s7_life_event(const struct s7_life *l, struct pg_event *ev)
{
	if (!l->n)
		return 0;
	json_t *arr = json_array();
	size_t o = 0;
	unsigned cnt[FATE_DELETED + 1] = { 0 };
	for (size_t i = 0; i < l->n; i++) {
		const struct s7_life_ent *f = &l->v[i];
		char id[24];
		mc7_block_id(f->type, f->number, id, sizeof id);
		if (f->fate <= FATE_DELETED)
			cnt[f->fate]++;
		json_t *b = json_object();
		json_object_set_new(b, "block", json_string(id));
		json_object_set_new(b, "state", json_string(fate_name(f->fate)));
		json_object_set_new(b, "downloaded", json_boolean(f->downloaded));
		if (f->has_sha) {
			char hex[PG_SHA256_HEX];
			json_object_set_new(b, "sha256", json_string(pg_hex(f->sha256, 32, hex)));
		}
		if (f->fate == FATE_REFUSED)
			json_object_set_new(b, "error_code", json_integer(f->err));
		if (f->fate == FATE_ACTIVATED || f->fate == FATE_DELETED)
			json_object_set_new(b, "confirmed", json_boolean(f->pi_confirmed));
		if (f->pi_err)
			json_object_set_new(b, "pi_error_code", json_integer(f->pi_err));
		if (f->pi_pending)
			json_object_set_new(b, "pi_answer_seen", json_false());
		json_object_set_new(b, "frame", json_integer((json_int_t)f->frame));
		json_array_append_new(arr, b);
		int w = snprintf(ev->object + o, sizeof ev->object - o, "%s%s", o ? "," : "", id);
		if (w > 0 && (size_t)w < sizeof ev->object - o)
			o += (size_t)w;
	}
	/* a download that was never activated is what a correlator must see */
	ev->sev = cnt[FATE_DOWNLOADED] ? PG_SEV_NOTICE : PG_SEV_INFO;
	pg_event_set_json(ev, "blocks", arr);
	pg_event_set_int(ev, "downloaded_not_activated", cnt[FATE_DOWNLOADED]);
	pg_event_set_int(ev, "activated", cnt[FATE_ACTIVATED]);
	pg_event_set_int(ev, "refused", cnt[FATE_REFUSED]);
	pg_event_set_int(ev, "incomplete", cnt[FATE_INCOMPLETE]);
	pg_event_set_int(ev, "deleted", cnt[FATE_DELETED]);
	pg_event_text(ev, "blocks of this session: %u activated, %u downloaded and never "
		      "activated, %u refused, %u incomplete, %u deleted",
		      cnt[FATE_ACTIVATED], cnt[FATE_DOWNLOADED], cnt[FATE_REFUSED],
		      cnt[FATE_INCOMPLETE], cnt[FATE_DELETED]);
	return 1;
}

void s7_life_free(struct s7_life *l, struct pg_budget *b)
{
	free(l->v);
	pg_budget_release(b, l->cap * sizeof *l->v);
	memset(l, 0, sizeof *l);
}
