package ebtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// serveScheduler answers EventBridge Scheduler's REST JSON calls: schedules,
// schedule groups and their tags. A call is recorded under its operation's
// name, with its JSON body and the name in the path as "Name" (or
// "ResourceArn"), and the query's group as "GroupName" (ListSchedules:
// "ScheduleGroup").
func (f *Fake) serveScheduler(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		http.Error(w, "unsigned request", http.StatusBadRequest)
		return
	}
	body := map[string]any{}
	if raw, _ := io.ReadAll(r.Body); len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			http.Error(w, "bad JSON", http.StatusBadRequest)
			return
		}
	}
	path := r.URL.EscapedPath()
	var op, name string
	switch rest, ok := strings.CutPrefix(path, "/schedules/"); {
	case ok:
		name = unescape(rest)
		op = map[string]string{"POST": "CreateSchedule", "GET": "GetSchedule", "PUT": "UpdateSchedule", "DELETE": "DeleteSchedule"}[r.Method]
	case path == "/schedules" && r.Method == http.MethodGet:
		op = "ListSchedules"
	case strings.HasPrefix(path, "/schedule-groups/"):
		name = unescape(strings.TrimPrefix(path, "/schedule-groups/"))
		op = map[string]string{"POST": "CreateScheduleGroup", "GET": "GetScheduleGroup", "DELETE": "DeleteScheduleGroup"}[r.Method]
	case strings.HasPrefix(path, "/tags/"):
		name = unescape(strings.TrimPrefix(path, "/tags/"))
		op = map[string]string{"POST": "TagResource", "GET": "ListTagsForResource"}[r.Method]
	}
	if op == "" {
		schedError(w, 404, "UnknownOperationException", "the fake does not know "+r.Method+" "+path)
		return
	}
	q := r.URL.Query()
	switch {
	case op == "ListSchedules":
		body["ScheduleGroup"] = q.Get("ScheduleGroup")
	case strings.HasPrefix(op, "List") || op == "TagResource":
		body["ResourceArn"] = name
	default:
		body["Name"] = name
		if g := q.Get("groupName"); g != "" {
			body["GroupName"] = g
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Op: op, Body: body, At: time.Now()})
	if fq := f.failures[op]; len(fq) > 0 {
		fail := fq[0]
		f.failures[op] = fq[1:]
		schedError(w, fail.Status, fail.Code, fail.Message)
		return
	}
	f.schedulerModel(w, op, name, body, q)
}

func unescape(s string) string {
	u, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// schedError answers an error as Scheduler does: the code in a header, the
// message in the body.
func schedError(w http.ResponseWriter, status int, code, msg string) {
	if status == 0 {
		status = map[string]int{
			"ResourceNotFoundException": 404, "ConflictException": 409, "ThrottlingException": 429,
			"InternalServerException": 500, "ServiceQuotaExceededException": 402, "AccessDeniedException": 403,
		}[code]
		if status == 0 {
			status = 400
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"Message": msg})
}

func schedAnswer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// scheduleFields are the fields of a schedule as Create and Update send
// them and GetSchedule answers them.
var scheduleFields = []string{
	"ScheduleExpression", "ScheduleExpressionTimezone", "Description", "StartDate", "EndDate",
	"FlexibleTimeWindow", "State", "ActionAfterCompletion", "Target", "KmsKeyArn",
}

// schedulerModel answers op like Scheduler does. Called with f.mu held.
func (f *Fake) schedulerModel(w http.ResponseWriter, op, name string, in map[string]any, q url.Values) {
	now := float64(time.Now().Unix())
	group := str(in, "GroupName")
	if group == "" {
		group = "default"
	}
	key := group + "/" + name
	switch op {
	case "CreateSchedule", "UpdateSchedule":
		if _, ok := f.groups[group]; !ok && group != "default" {
			schedError(w, 0, "ResourceNotFoundException", "Schedule group "+group+" does not exist.")
			return
		}
		s, exists := f.schedules[key]
		switch {
		case op == "CreateSchedule" && exists:
			schedError(w, 0, "ConflictException", "Schedule "+name+" already exists.")
			return
		case op == "UpdateSchedule" && !exists:
			schedError(w, 0, "ResourceNotFoundException", "Schedule "+name+" does not exist.")
			return
		case !exists:
			s = map[string]any{
				"Name": name, "GroupName": group, "CreationDate": now,
				"Arn": fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/%s/%s", Region, Account, group, name),
			}
			f.schedules[key] = s
		}
		// Like AWS, an update replaces every field: what it leaves out is gone.
		for _, k := range scheduleFields {
			if v, ok := in[k]; ok {
				s[k] = v
			} else {
				delete(s, k)
			}
		}
		s["LastModificationDate"] = now
		schedAnswer(w, map[string]any{"ScheduleArn": s["Arn"]})
	case "GetSchedule":
		s, ok := f.schedules[key]
		if !ok {
			schedError(w, 0, "ResourceNotFoundException", "Schedule "+name+" does not exist.")
			return
		}
		schedAnswer(w, s)
	case "DeleteSchedule":
		if _, ok := f.schedules[key]; !ok {
			schedError(w, 0, "ResourceNotFoundException", "Schedule "+name+" does not exist.")
			return
		}
		delete(f.schedules, key)
		schedAnswer(w, map[string]any{})
	case "ListSchedules":
		g := q.Get("ScheduleGroup")
		if _, ok := f.groups[g]; !ok && g != "" && g != "default" {
			// What AWS answers for a missing group is not documented;
			// this is the harder of the two possible answers.
			schedError(w, 0, "ResourceNotFoundException", "Schedule group "+g+" does not exist.")
			return
		}
		var keys []string
		for k, s := range f.schedules {
			if g == "" || str(s, "GroupName") == g {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		// Pages of 2 so the backend's paging is exercised.
		start := 0
		if tok := q.Get("NextToken"); tok != "" {
			fmt.Sscanf(tok, "page-%d", &start)
		}
		end := min(start+2, len(keys))
		page := []any{}
		for _, k := range keys[start:end] {
			s := f.schedules[k]
			sum := map[string]any{"Name": s["Name"], "GroupName": s["GroupName"], "Arn": s["Arn"], "State": s["State"]}
			if t, ok := s["Target"].(map[string]any); ok {
				sum["Target"] = map[string]any{"Arn": t["Arn"]}
			}
			page = append(page, sum)
		}
		out := map[string]any{"Schedules": page}
		if end < len(keys) {
			out["NextToken"] = fmt.Sprintf("page-%d", end)
		}
		schedAnswer(w, out)
	case "CreateScheduleGroup":
		if _, ok := f.groups[name]; ok {
			schedError(w, 0, "ConflictException", "Schedule group "+name+" already exists.")
			return
		}
		arn := fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule-group/%s", Region, Account, name)
		f.groups[name] = map[string]any{"Name": name, "Arn": arn, "State": "ACTIVE", "CreationDate": now, "LastModificationDate": now}
		f.groupTags[arn] = tagMap(in["Tags"])
		schedAnswer(w, map[string]any{"ScheduleGroupArn": arn})
	case "GetScheduleGroup":
		g, ok := f.groups[name]
		if !ok {
			schedError(w, 0, "ResourceNotFoundException", "Schedule group "+name+" does not exist.")
			return
		}
		schedAnswer(w, g)
	case "ListTagsForResource":
		tags := []any{}
		for k, v := range f.groupTags[name] {
			tags = append(tags, map[string]any{"Key": k, "Value": v})
		}
		schedAnswer(w, map[string]any{"Tags": tags})
	case "TagResource":
		if f.groupTags[name] == nil {
			f.groupTags[name] = map[string]string{}
		}
		for k, v := range tagMap(in["Tags"]) {
			f.groupTags[name][k] = v
		}
		schedAnswer(w, map[string]any{})
	default:
		schedError(w, 400, "UnknownOperationException", "the fake does not model "+op)
	}
}

func tagMap(v any) map[string]string {
	tags := map[string]string{}
	list, _ := v.([]any)
	for _, t := range list {
		tm, _ := t.(map[string]any)
		tags[str(tm, "Key")] = str(tm, "Value")
	}
	return tags
}

// Schedule returns a copy of a schedule as GetSchedule answers it, nil if
// there is none.
func (f *Fake) Schedule(group, name string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return clone(f.schedules[group+"/"+name])
}

// ScheduleNames lists the schedules of a group in the model.
func (f *Fake) ScheduleNames(group string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, s := range f.schedules {
		if str(s, "GroupName") == group {
			names = append(names, str(s, "Name"))
		}
	}
	slices.Sort(names)
	return names
}

// DropSchedule deletes a schedule behind the agent's back, as AWS does
// after a one-time schedule ran (ActionAfterCompletion DELETE) or someone
// in the console would.
func (f *Fake) DropSchedule(group, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.schedules, group+"/"+name)
}

// SetScheduleField changes a field of a schedule behind the agent's back.
func (f *Fake) SetScheduleField(group, name, field string, value any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.schedules[group+"/"+name][field] = value
}

// PutForeignSchedule adds a schedule to a group as if someone else had
// made it; the group is made too if missing (untagged).
func (f *Fake) PutForeignSchedule(group, name, expression string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[group]; !ok {
		f.groups[group] = map[string]any{"Name": group, "Arn": fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule-group/%s", Region, Account, group), "State": "ACTIVE"}
	}
	f.schedules[group+"/"+name] = map[string]any{
		"Name": name, "GroupName": group, "ScheduleExpression": expression, "State": "ENABLED",
		"Arn": fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/%s/%s", Region, Account, group, name),
	}
}

// PutForeignGroup adds a schedule group with tags as if someone else had
// made it.
func (f *Fake) PutForeignGroup(name string, tags map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule-group/%s", Region, Account, name)
	f.groups[name] = map[string]any{"Name": name, "Arn": arn, "State": "ACTIVE"}
	f.groupTags[arn] = tags
}

// GroupTags returns the tags of a schedule group in the model, nil if
// there is no such group.
func (f *Fake) GroupTags(name string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[name]
	if !ok {
		return nil
	}
	out := map[string]string{}
	for k, v := range f.groupTags[str(g, "Arn")] {
		out[k] = v
	}
	return out
}
