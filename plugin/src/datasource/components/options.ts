import { useEffect, useState } from 'react';
import { SelectableValue } from '@grafana/data';
import { DataSource } from '../datasource';
import { VariableKind } from '../types';

/**
 * The options of a dropdown, from the datasource's variables resource (units, sectors, districts,
 * states, in the datasource's unit scope), followed by the dashboard's variables ($unit, ...).
 * Until they arrive, or when the backend cannot be reached, the list holds what it can: the
 * variables, and fallback; typing a value is always allowed.
 */
export function useOptions(datasource: DataSource | undefined, kind: VariableKind, fallback: string[] = []): Array<SelectableValue<string>> {
  const [options, setOptions] = useState<Array<SelectableValue<string>>>(() =>
    fallback.map((v) => ({ label: v, value: v }))
  );
  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const rows = await datasource!.options(kind);
        if (live) {
          setOptions(rows.map((r) => ({ label: r.text, value: r.value ?? r.text })));
        }
      } catch {
        // No backend (yet): keep the fallback; custom values can still be typed.
      }
    })();
    return () => {
      live = false;
    };
  }, [datasource, kind]);
  const vars = (datasource?.variableNames?.() ?? []).map((v) => ({ label: v, value: v, description: '变量 variable' }));
  return [...options, ...vars];
}

/** Selected values as options: a value the list does not hold (a typed one, a variable) shows as itself. */
export function selected(values: string[] | undefined, options: Array<SelectableValue<string>>): Array<SelectableValue<string>> {
  return (values ?? []).map((v) => options.find((o) => o.value === v) ?? { label: v, value: v });
}
